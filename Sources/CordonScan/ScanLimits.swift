/// How far the scanner looks beneath a file's surface: decodings, compressed files, archives.
/// Each limit bounds the work one file can cause, whatever it holds; a file that reaches one is
/// held for approval with a finding that says which.
public struct ScanLimits: Sendable, Equatable {
    /// Rounds of decoding (gitleaks' `--max-decode-depth`): 1 finds a base64 key, 2 a key in
    /// base64 inside base64. 0: no decoding.
    public var decodeDepth = 3
    /// Decoded text (with its context) scanned again per file, over every round and member.
    public var maxDecodedBytes = 16 << 20
    /// Compressed files and archives inside one another: 1 reads `a.zip`'s members, 2 also a
    /// `.tar.gz` inside it.
    public var archiveDepth = 3
    /// Bytes decompression may produce per file, nested archives included...
    public var maxExpandedBytes = 64 << 20
    /// ...and no more than this many times the file's own size, beyond the first MiB (zip bombs).
    public var maxRatio = 100
    /// Members read per file, nested archives included.
    public var maxEntries = 10_000

    public init() {}
}

/// What one file (with everything nested in it) has used of the `ScanLimits`.
final class ScanBudget {
    let limits: ScanLimits
    let inputSize: Int
    var expanded = 0
    var entries = 0
    var decoded = 0

    init(limits: ScanLimits, inputSize: Int) {
        self.limits = limits
        self.inputSize = inputSize
    }

    var expansionAllowance: Int {
        let (ratio, overflow) = limits.maxRatio.multipliedReportingOverflow(by: inputSize)
        return min(limits.maxExpandedBytes, max(1 << 20, overflow ? Int.max : ratio))
    }
    var remainingExpansion: Int { max(0, expansionAllowance - expanded) }

    func expansionMessage(_ limit: Int) -> String {
        "decompressing it would produce more than \(expansionAllowance) bytes (the scanner reads at most \(limits.maxExpandedBytes) bytes, "
            + "and at most \(limits.maxRatio) times the file's size past the first MiB, per file): a possible zip bomb, not expanded further"
    }

    func admitEntry() -> Bool {
        entries += 1
        return entries <= limits.maxEntries
    }

    var entriesMessage: String { "it holds more than \(limits.maxEntries) members (the scanner's limit per file); the rest are not scanned" }
}
