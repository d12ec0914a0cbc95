/// The outbound leak check over one request body (issue #25): the sync gate's rules run over the
/// body as it streams through the proxy, in bounded memory.
///
/// The body is scanned in windows: each scan covers the last `window` bytes already scanned (the
/// held-back tail) plus the bytes fed since, so a secret split across chunks is seen whole, and
/// no byte of a secret up to `window` bytes long is releasable before the scan that finds it.
/// The checker never keeps more than the tail plus one slice (`maxSlice`, or less when the
/// caller feeds less), however long the body. A finding carries the rule, its description and
/// the redacted excerpt the gate prints, never the secret.
///
/// A gzip or deflate body is inflated as it streams (zlib keeps its own 32 KiB window besides),
/// up to `maxInflated` bytes; past that, or on a stream zlib refuses, the checker reports the
/// body as not inspected and scans no more of it.
///
/// Used by one request on one thread; the compiled `SecretScanner` (its Hyperscan database and
/// regexes) is shared by all of them, and each checker has its own scratch (`Session`).
public final class StreamingLeakCheck {
    /// The held-back tail, in bytes: the longest secret found whatever the chunking (a 4096-bit
    /// RSA key in PEM is ~3.3 KB).
    public let window: Int
    /// The most bytes scanned at once beyond the tail: a large chunk is taken a slice at a time.
    public static let maxSlice = 64 * 1024
    /// Findings reported per body; the rest are counted in `suppressed`.
    public static let maxFindings = 64

    /// What findings name as where they were found (the request, e.g. `POST api.example.com/v1`).
    public let label: String
    let scanner: SecretScanner
    let session: SecretScanner.Session
    /// The held-back tail followed by the bytes not scanned yet.
    private var buffer: [UInt8] = []
    /// Where `buffer[0]` is in the body.
    private var bufferStart = 0
    /// Bytes fed so far, and how far the body has been scanned.
    private var total = 0
    private var scannedEnd = 0
    /// Findings already reported (rule, place in the body, excerpt, encodings), to report a secret
    /// seen again by the next window's overlap once; only those that window can still see.
    private var reported: [String: Int] = [:]
    private var count = 0
    private var finished = false

    /// Findings past `maxFindings`, not reported.
    public private(set) var suppressed = 0
    /// The most body bytes the checker held at once (the tail plus one slice at most).
    public private(set) var peakRetainedBytes = 0
    /// Body bytes the checker holds now.
    public var retainedBytes: Int { buffer.count }

    /// How the body is encoded (its `Content-Encoding`).
    public enum BodyEncoding: String, Sendable, Equatable {
        case identity, gzip, deflate

        /// From a `Content-Encoding` value; nil for one the checker cannot read (`br`, `zstd`,
        /// several codings in a row): the caller treats such a body as not inspectable.
        public init?(contentEncoding: String?) {
            switch (contentEncoding ?? "").lowercased().filter({ $0 != " " && $0 != "\t" }) {
            case "", "identity": self = .identity
            case "gzip", "x-gzip": self = .gzip
            case "deflate": self = .deflate
            default: return nil
            }
        }
    }

    /// Bytes a compressed body may inflate to before the rest is left unscanned (and reported).
    public let maxInflated: Int
    private let inflater: StreamingInflater?
    private let encoding: BodyEncoding
    /// For a compressed body: (compressed bytes taken, bytes they inflate to) at points where
    /// zlib had given out all it could, oldest first; and the compressed bytes released so far.
    private var settled: [(consumed: Int, produced: Int)] = []
    private var compressedReleased = 0
    private var compressedTotal = 0
    /// Set when a compressed body cannot be read on: nothing more is scanned.
    private var uninspectable = false

    /// `window` is clamped to at least 256 bytes.
    public init(
        scanner: SecretScanner, window: Int = 4096, label: String = "request body", encoding: BodyEncoding = .identity, maxInflated: Int = 64 << 20
    ) {
        self.scanner = scanner
        self.window = max(256, window)
        self.label = label
        self.encoding = encoding
        self.maxInflated = maxInflated
        inflater = encoding == .identity ? nil : StreamingInflater(gzip: encoding == .gzip)
        session = SecretScanner.Session(scanner: scanner)
        buffer.reserveCapacity(self.window + Self.maxSlice)
    }

    /// Feeds body bytes; returns the findings that now stand and how many of the bytes fed so far
    /// (counted from the start of the body) may be released upstream: all but the held-back tail
    /// and any bytes not scanned yet. A caller that blocks on a finding must check `findings`
    /// before releasing anything.
    public func feed(_ bytes: UnsafeRawBufferPointer) -> (findings: [Finding], releasable: Int) {
        precondition(!finished, "StreamingLeakCheck.feed after finish")
        guard let inflater else { return (feedPlain(bytes), releasable) }
        compressedTotal += bytes.count
        guard !uninspectable else { return ([], releasable) }
        var findings: [Finding] = []
        let outcome = inflater.inflate(
            bytes, limit: maxInflated, emit: { findings += feedPlain($0) }, settled: { settled.append(($0, $1)) })
        switch outcome {
        case .ok: break
        case .overLimit:
            findings.append(notInspected("it inflates to more than \(maxInflated) bytes (a possible zip bomb)", at: inflater.produced))
        case .corrupt(let why):
            findings.append(notInspected("it is not a valid \(encoding.rawValue) stream (\(why))", at: inflater.produced))
        }
        return (findings, releasable)
    }

    /// A compressed body the checker cannot read on: reported (a `block` profile refuses the
    /// request), and the rest is let through unscanned under `alert`.
    private func notInspected(_ why: String, at offset: Int) -> Finding {
        uninspectable = true
        return Finding(
            ruleID: "request-body-uninspectable", severity: .approval, path: label,
            message: "the \(encoding.rawValue) request body was not scanned past \(offset) inflated bytes: \(why)",
            fix: "send the body uncompressed, or set egress.dlp to alert to let such bodies through with this alert")
    }

    /// Plain body bytes (as sent, or inflated).
    private func feedPlain(_ bytes: UnsafeRawBufferPointer) -> [Finding] {
        var findings: [Finding] = []
        var offset = 0
        while offset < bytes.count {
            let pending = total - scannedEnd
            let take = min(Self.maxSlice - pending, bytes.count - offset)
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
            offset += take
            total += take
            peakRetainedBytes = max(peakRetainedBytes, buffer.count)
            // Scan once a window's worth is new: tiny chunks do not cost a scan of the tail each.
            if total - scannedEnd >= min(window, Self.maxSlice) { findings += scan(final: false) }
        }
        return findings
    }

    /// The same, for bytes in an array.
    public func feed(_ bytes: [UInt8]) -> (findings: [Finding], releasable: Int) {
        bytes.withUnsafeBytes { feed($0) }
    }

    /// How many bytes of the body (as sent: compressed, for a compressed one) may be released
    /// upstream now.
    public var releasable: Int {
        guard inflater != nil else { return finished ? total : max(0, scannedEnd - window) }
        if finished || uninspectable { return compressedTotal }
        // Compressed bytes go once all they inflate to may go: zlib had given out everything
        // those bytes encode when it reported them settled.
        let plain = max(0, scannedEnd - window)
        var drop = 0
        while drop < settled.count && settled[drop].produced <= plain {
            compressedReleased = max(compressedReleased, settled[drop].consumed)
            drop += 1
        }
        if drop > 0 { settled.removeFirst(drop) }
        return compressedReleased
    }

    /// The end of the body: the tail is scanned and all of it may go (unless a finding says not).
    public func finish() -> [Finding] {
        guard !finished else { return [] }
        let findings = uninspectable ? [] : scan(final: true)
        finished = true
        buffer = []
        reported = [:]
        settled = []
        return findings
    }

    /// Scans the buffer. Before the end of the body, a finding that starts in the last half
    /// window is left to the next scan, which sees it again with what follows (a token cut by
    /// the end of the buffer could look complete to a rule that ends at a word boundary).
    private func scan(final: Bool) -> [Finding] {
        let margin = window / 2
        var accepted: [Finding] = []
        buffer.withUnsafeBufferPointer { bytes in
            let found = scanner.scanStreamWindow(bytes, path: label, session: session)
            guard !found.isEmpty else { return }
            let lines = LineIndex(bytes)
            for finding in found {
                let offset = lines.start(ofLine: finding.line ?? 1) + max(0, (finding.column ?? 1) - 1)
                if !final && offset >= bytes.count - margin { continue }
                let place = bufferStart + offset
                let key = "\(finding.ruleID)\u{0}\(place)\u{0}\(finding.match ?? "")\u{0}\(finding.decoded ?? [])"
                guard reported[key] == nil else { continue }
                reported[key] = place
                count += 1
                guard count <= Self.maxFindings else {
                    suppressed += 1
                    continue
                }
                accepted.append(reportable(finding))
            }
        }
        scannedEnd = total
        if buffer.count > window {
            let drop = buffer.count - window
            buffer.removeFirst(drop)
            bufferStart += drop
            reported = reported.filter { $0.value >= bufferStart }
        }
        return accepted
    }

    /// The finding as the proxy logs it: the request instead of a file, no line (the body has
    /// none that means anything upstream), the excerpt redacted as the gate prints it.
    private func reportable(_ finding: Finding) -> Finding {
        var result = finding
        result.path = label
        result.line = nil
        result.column = nil
        result.member = nil
        result.fix = "the request carries what looks like a secret (\(finding.ruleID)); if it is real, rotate it, and keep secrets out of request bodies"
        return result
    }
}

extension SecretScanner {
    /// One window of a streamed body: the rules over its bytes as they are, then over the
    /// encoded segments decoded beneath them (within the scanner's limits for one window). No
    /// archive or UTF-16 view: a request body is not a file, and a body that is compressed as
    /// a whole is inflated before it is fed.
    func scanStreamWindow(_ bytes: UnsafeBufferPointer<UInt8>, path: String, session: Session) -> [Finding] {
        let own = scanText(bytes, path: path, session: session, pathRules: false, lineSource: nil)
        let budget = ScanBudget(limits: limits, inputSize: bytes.count)
        return own + decodeRounds(bytes, lineSource: bytes, path: path, via: [], known: own, budget: budget, session: session)
    }
}
