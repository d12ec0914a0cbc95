/// Encoded text (base64, hex, percent) decoded round by round and scanned again.
extension SecretScanner {
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
    func decodeRounds(
        _ text: UnsafeBufferPointer<UInt8>, lineSource: UnsafeBufferPointer<UInt8>, path: String, via: [String], known: [Finding], budget: ScanBudget,
        session: Session
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
                    held(
                        "scan-decode-limit",
                        "decoding its encoded text would pass \(limits.maxDecodedBytes) bytes (the scanner's limit per file): the rest is not scanned",
                        path: path))
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
