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

extension SecretScanner {
    /// The whole scan of one file: its bytes as written (always, binary or not), then what lies
    /// beneath: members of compressed files and archives, UTF-16 text, the printable runs of a
    /// binary file, and encoded segments, decoded round by round.
    func scanAll(_ bytes: UnsafeBufferPointer<UInt8>, path: String, session: Session) -> [Finding] {
        let budget = ScanBudget(limits: limits, inputSize: bytes.count)
        return scanFile(bytes, path: path, member: nil, nesting: 0, budget: budget, session: session)
    }

    /// `path` is the file the gate holds; `member` the chain below it (`a/b.env`, or
    /// `inner.tar.gz!/x`), nil for the file itself. Path rules see `path!/member`.
    private func scanFile(_ bytes: UnsafeBufferPointer<UInt8>, path: String, member: String?, nesting: Int, budget: ScanBudget, session: Session) -> [Finding] {
        let shown = member.map { path + "!/" + $0 } ?? path
        var own = scanText(bytes, path: shown, session: session, pathRules: true, lineSource: nil)
        var nested: [Finding] = []
        if let format = ArchiveReader.format(bytes) {
            if nesting >= limits.archiveDepth {
                own.append(held("scan-archive-limit", "\(format.rawValue) nested \(nesting + 1) deep (the scanner reads \(limits.archiveDepth) levels): its contents are not scanned", path: shown))
            } else {
                let problems = ArchiveReader.read(bytes, format: format, name: member ?? path, budget: budget) { name, content in
                    let chain = member.map { $0 + "!/" + name } ?? name
                    nested += scanFile(content, path: path, member: chain, nesting: nesting + 1, budget: budget, session: session)
                }
                for problem in problems {
                    switch problem {
                    case .limit(let why):
                        own.append(held("scan-archive-limit", "\(format.rawValue): \(why)", path: shown))
                    case .unreadable(let name, let why):
                        let at = name.map { "member \($0)" } ?? format.rawValue
                        own.append(held("scan-archive-unreadable", "\(at) not scanned: \(why)", path: shown))
                    }
                }
            }
        }
        if let (text, encoding) = ScanDecoders.utf16(bytes) {
            text.withUnsafeBufferPointer { text in
                own += scanText(text, path: shown, session: session, pathRules: false, lineSource: nil).map { finding in
                    var finding = finding
                    finding.decoded = [encoding]
                    return finding
                }
                own += decodeRounds(text, lineSource: text, path: shown, via: [encoding], known: own, budget: budget, session: session)
            }
        } else if Self.isBinary(bytes) {
            // The raw pass saw every byte; this one sees the text runs as `strings` prints them,
            // each ending where a line would (rules that need a delimiter after the secret).
            let runs = ScanDecoders.printableRuns(bytes)
            runs.withUnsafeBufferPointer { runs in
                let seen = Set(own.map { "\($0.ruleID)\u{0}\($0.line ?? 0)\u{0}\($0.column ?? 0)" })
                own += scanText(runs, path: shown, session: session, pathRules: false, lineSource: bytes).filter {
                    !seen.contains("\($0.ruleID)\u{0}\($0.line ?? 0)\u{0}\($0.column ?? 0)")
                }
                own += decodeRounds(runs, lineSource: bytes, path: shown, via: [], known: own, budget: budget, session: session)
            }
        } else {
            own += decodeRounds(bytes, lineSource: bytes, path: shown, via: [], known: own, budget: budget, session: session)
        }
        if let member {
            for index in own.indices {
                own[index].path = path
                own[index].member = member
            }
        }
        return own + nested
    }

    private func held(_ rule: String, _ message: String, path: String) -> Finding {
        Finding(
            ruleID: rule, severity: .approval, path: path, message: message,
            fix: "review \(path) by hand (its contents were not all scanned for secrets); approve with --yes or at the prompt")
    }

    /// Text with encoded segments decoded in place, each with a little of the text around it,
    /// and where each decoded part came from.
    struct DecodedView {
        struct Region {
            var range: Range<Int>
            var line: Int
            var column: Int
            var encodings: [String]
        }
        var bytes: [UInt8] = []
        var regions: [Region] = []

        /// The region holding `offset`, or (for a secret that starts in the context and runs
        /// into a decoded part) the next one.
        func region(at offset: Int) -> Region? {
            var low = 0
            var high = regions.count
            while low < high {
                let mid = (low + high) / 2
                if regions[mid].range.upperBound <= offset { low = mid + 1 } else { high = mid }
            }
            return low < regions.count ? regions[low] : regions.last
        }

        func contains(_ offset: Int) -> Bool {
            guard let r = region(at: offset) else { return false }
            return r.range.contains(offset)
        }
    }

    /// Context kept on each side of a decoded segment (within its line): enough for the key
    /// name a generic rule wants before a value.
    static let decodeContext = 256

    /// Decodes the segments of `text` (and of what they decode to, to `limits.decodeDepth`) and
    /// scans the decodings. A finding that starts in a decoded part is reported at the segment
    /// it came from; one that starts in the context around it only when it is new (a secret
    /// half written out, half encoded), since the context itself was scanned already.
    private func decodeRounds(
        _ text: UnsafeBufferPointer<UInt8>, lineSource: UnsafeBufferPointer<UInt8>, path: String, via: [String], known: [Finding], budget: ScanBudget, session: Session
    ) -> [Finding] {
        guard limits.decodeDepth > 0, !text.isEmpty else { return [] }
        let rootLines = LineIndex(lineSource)
        var reported = Set(known.map { "\($0.ruleID)\u{0}\($0.match ?? "")" })
        var findings: [Finding] = []
        var previous: DecodedView?
        for _ in 0..<limits.decodeDepth {
            var view = DecodedView()
            var overBudget = false
            if let previous {
                previous.bytes.withUnsafeBufferPointer { source in
                    for region in previous.regions {
                        overBudget = !Self.decode(source, within: region.range, into: &view, budget: budget) { _ in
                            (region.line, region.column, region.encodings)
                        }
                        if overBudget { break }
                    }
                }
            } else {
                overBudget = !Self.decode(text, within: 0..<text.count, into: &view, budget: budget) { range in
                    let (line, start) = rootLines.position(of: range.lowerBound)
                    return (line, range.lowerBound - start + 1, via)
                }
            }
            if !view.regions.isEmpty {
                let lines = view.bytes.withUnsafeBufferPointer { LineIndex($0) }
                let raw = view.bytes.withUnsafeBufferPointer { scanText($0, path: path, session: session, pathRules: false, lineSource: nil) }
                for var finding in raw {
                    let offset = lines.start(ofLine: finding.line ?? 1) + max(0, (finding.column ?? 1) - 1)
                    guard let region = view.region(at: offset) else { continue }
                    let key = "\(finding.ruleID)\u{0}\(finding.match ?? "")"
                    if !region.range.contains(offset) && reported.contains(key) && finding.column != nil { continue }
                    reported.insert(key)
                    finding.line = region.line
                    finding.column = region.column
                    finding.decoded = region.encodings
                    findings.append(finding)
                }
            }
            if overBudget {
                findings.append(
                    held("scan-decode-limit", "decoding its encoded text would pass \(limits.maxDecodedBytes) bytes (the scanner's limit per file): the rest is not scanned", path: path))
                break
            }
            if view.regions.isEmpty { break }
            previous = view
        }
        return findings
    }

    /// Appends the decodable segments of `source[range]`, each in its context, to `view`;
    /// false when the file's decoding budget ran out.
    static func decode(
        _ source: UnsafeBufferPointer<UInt8>, within range: Range<Int>, into view: inout DecodedView, budget: ScanBudget,
        origin: (Range<Int>) -> (line: Int, column: Int, encodings: [String])
    ) -> Bool {
        let segments = ScanDecoders.segments(in: source, range: range)
        var index = 0
        while index < segments.count {
            // One piece of context around a run of segments close enough to share it.
            var last = index
            var windowEnd = contextEnd(source, after: segments[index].range.upperBound)
            while last + 1 < segments.count && segments[last + 1].range.lowerBound < windowEnd {
                last += 1
                windowEnd = contextEnd(source, after: segments[last].range.upperBound)
            }
            let windowStart = contextStart(source, before: segments[index].range.lowerBound)
            var size = windowEnd - windowStart + 1
            for segment in segments[index...last] { size += segment.decoded.count - segment.range.count }
            if budget.decoded + size > budget.limits.maxDecodedBytes { return false }
            budget.decoded += size
            var cursor = windowStart
            for segment in segments[index...last] {
                view.bytes += source[cursor..<segment.range.lowerBound]
                let start = view.bytes.count
                view.bytes += segment.decoded
                let (line, column, encodings) = origin(segment.range)
                view.regions.append(.init(range: start..<view.bytes.count, line: line, column: column, encodings: encodings + [segment.encoding.rawValue]))
                cursor = segment.range.upperBound
            }
            view.bytes += source[cursor..<windowEnd]
            view.bytes.append(10)
            index = last + 1
        }
        return true
    }

    static func contextStart(_ source: UnsafeBufferPointer<UInt8>, before offset: Int) -> Int {
        var start = offset
        while start > 0 && offset - start < decodeContext && source[start - 1] != 10 { start -= 1 }
        return start
    }

    static func contextEnd(_ source: UnsafeBufferPointer<UInt8>, after offset: Int) -> Int {
        var end = offset
        while end < source.count && end - offset < decodeContext && source[end] != 10 { end += 1 }
        return end
    }
}
