import CordonCore

#if canImport(Glibc)
    import Glibc
#endif

/// The scan of one text: the Hyperscan pass (or the keyword check without it), then the exact
/// regex at the places it reports, then secret group, entropy and allowlists for each match.
extension SecretScanner {
    /// One pass of the rules over `bytes` as they are (any bytes: a binary file's too).
    /// `pathRules`: also the rules that look only at the path (once per file, not per decoded
    /// view). `lineSource`: a buffer of the same length that line numbers are counted in (the
    /// file, when `bytes` is its printable runs).
    func scanText(_ bytes: UnsafeBufferPointer<UInt8>, path: String, session: Session, pathRules: Bool, lineSource: UnsafeBufferPointer<UInt8>?) -> [Finding] {
        let scratch = session.regexScratch
        var findings: [Finding] = []
        // Path-only rules apply to any file, binary or not. An undecided path regex flags the file.
        for rule in rules where rule.regex == nil && pathRules {
            guard let p = rule.path, p.contains(path, scratch: scratch, onLimit: true) else { continue }
            if allowed(rule: rule, secret: "", match: { "" }, line: { "" }, path: path, scratch: scratch) { continue }
            findings.append(
                Finding(
                    ruleID: rule.rule.id, severity: .block, path: path, message: rule.rule.description,
                    fix: "remove \(path) from the change set, or add an allowlist entry for it if it holds no secret"))
        }
        if global.contains(where: { list in
            !list.paths.isEmpty && list.regexes.isEmpty && list.stopwords.isEmpty && list.paths.contains { $0.contains(path, scratch: scratch, onLimit: false) }
        }) {
            return findings
        }
        for index in session.ends.indices {
            session.ends[index].removeAll(keepingCapacity: true)
            session.starts[index].removeAll(keepingCapacity: true)
        }
        for index in session.present.indices { session.present[index] = false }
        // Without a complete Hyperscan pass (no Hyperscan, too many hits, a U+212A/U+017F in the
        // file), every rule's regex runs over the whole file.
        var wholeFile = hyperscan == nil
        if let hyperscan, let hyperscanScratch = session.hyperscanScratch {
            if hyperscan.scan(UnsafeRawBufferPointer(bytes), scratch: hyperscanScratch, into: &session.hits) == .truncated { wholeFile = true }
            // Gate tables and anchors through pointers: no copy or reference count per hit.
            gateTables.withUnsafeBufferPointer { tables in
                anchorTable.withUnsafeBufferPointer { anchors in
                    for hit in session.hits {
                        if hit.id == Self.foldHazard {
                            wholeFile = true
                        } else if hit.id >= Self.anchorBase {
                            let anchor = Int(hit.id - Self.anchorBase)
                            if let gate = anchors[anchor].gate, let table = tables.baseAddress,
                                !gate.admits(bytes, literalEnd: hit.end, table: table + anchors[anchor].gateTable)
                            {
                                continue
                            }
                            session.starts[anchors[anchor].rule].append(hit.end - anchors[anchor].length)
                        } else if hit.id >= Self.keywordBase {
                            session.present[Int(hit.id - Self.keywordBase)] = true
                        } else {
                            session.ends[Int(hit.id)].append(hit.end)
                        }
                    }
                }
            }
            if wholeFile { for index in session.present.indices { session.present[index] = true } }
        } else {
            let lower = Self.asciiLowercased(Array(bytes))
            for (index, word) in keywordBytes.enumerated() where Self.contains(lower, word) { session.present[index] = true }
        }
        let lines = LineIndex(lineSource ?? bytes)
        var located: [Located] = []
        for (index, rule) in rules.enumerated() {
            guard let regex = rule.regex else { continue }
            if !rule.keywordIndices.isEmpty && !rule.keywordIndices.contains(where: { session.present[$0] }) { continue }
            if let p = rule.path, !p.contains(path, scratch: scratch, onLimit: true) { continue }
            if rule.anchoredInHyperscan, !wholeFile, let anchored = rule.anchoredRegex {
                if session.starts[index].isEmpty { continue }
                located += confirmAnchored(rule, regex: anchored, bytes: bytes, starts: session.starts[index], path: path, scratch: scratch, lines: lines)
                continue
            }
            let windows: [Range<Int>]
            if rule.inHyperscan && !wholeFile {
                if session.ends[index].isEmpty { continue }
                windows = Self.windows(bytes, ends: session.ends[index], lookback: rule.lookback)
            } else {
                windows = [0..<bytes.count]
            }
            for window in windows {
                located += confirm(rule, regex: regex, bytes: bytes, window: window, path: path, scratch: scratch, lines: lines)
            }
        }
        return findings + Self.droppingGenericDuplicates(located)
    }

    /// A finding with the bytes of the secret it matched in the scanned text (nil: not a match,
    /// e.g. a place the regex engine gave up on).
    struct Located {
        var finding: Finding
        var span: Range<Int>?
    }

    /// Whether `id` names a generic rule (gitleaks' test: "generic" anywhere in the id, any case).
    static func isGeneric(_ id: String) -> Bool {
        id.lowercased().contains("generic")
    }

    /// Drops a generic rule's finding when a specific rule matched an overlapping span of the same
    /// text: one secret, reported once, by the rule that says what it is (gitleaks drops the generic
    /// finding the same way). A generic finding of its own, and any finding without a span, stay.
    static func droppingGenericDuplicates(_ located: [Located]) -> [Finding] {
        let specific = located.compactMap { isGeneric($0.finding.ruleID) ? nil : $0.span }
        guard !specific.isEmpty else { return located.map(\.finding) }
        return located.filter { entry in
            guard let span = entry.span, isGeneric(entry.finding.ruleID) else { return true }
            return !specific.contains { $0.overlaps(span) }
        }.map(\.finding)
    }

    /// Runs the exact regex over one window and turns surviving matches into findings.
    private func confirm(
        _ rule: CompiledRule, regex: ByteRegex, bytes: UnsafeBufferPointer<UInt8>, window: Range<Int>, path: String, scratch: ByteRegex.Scratch,
        lines: LineIndex
    ) -> [Located] {
        let text = UnsafeBufferPointer(rebasing: bytes[window])
        do {
            let matches = try regex.matches(in: text, scratch: scratch)
            return findings(rule, matches: matches, text: text, offset: window.lowerBound, lines: lines, path: path, scratch: scratch)
        } catch {
            return [Located(finding: undecided(rule, lines: lines, at: window.lowerBound, path: path, error: error))]
        }
    }

    /// Tries the anchored regex at each place one of the rule's leading literals occurs, left to
    /// right, skipping places inside the previous match: the same non-overlapping, leftmost
    /// matches a scan of the whole file gives, since every match starts at such a literal.
    private func confirmAnchored(
        _ rule: CompiledRule, regex: ByteRegex, bytes: UnsafeBufferPointer<UInt8>, starts: [Int], path: String, scratch: ByteRegex.Scratch,
        lines: LineIndex
    ) -> [Located] {
        var matches: [ByteRegex.Match] = []
        var next = 0
        for start in starts.sorted() where start >= next {
            do {
                guard let match = try regex.firstMatch(in: bytes, from: start, scratch: scratch) else { continue }
                matches.append(match)
                next = match.range.isEmpty ? match.range.upperBound + 1 : match.range.upperBound
            } catch {
                return [Located(finding: undecided(rule, lines: lines, at: start, path: path, error: error))]
            }
        }
        return findings(rule, matches: matches, text: bytes, offset: 0, lines: lines, path: path, scratch: scratch)
    }

    /// Fail closed: a place the exact engine could not decide holds the file back.
    private func undecided(_ rule: CompiledRule, lines: LineIndex, at offset: Int, path: String, error: ByteRegex.LimitError) -> Finding {
        Finding(
            ruleID: rule.rule.id, severity: .block, path: path, line: lines.line(at: offset),
            message: "\(rule.rule.description): the regex engine gave up on this part of the file (\(error)); it cannot be cleared automatically",
            fix: "review \(path) by hand, or simplify the rule's regex")
    }

    /// Turns regex matches in `text` (which starts at `offset` in the file) into findings: secret
    /// group, entropy, allowlists, then line and column.
    private func findings(
        _ rule: CompiledRule, matches: [ByteRegex.Match], text: UnsafeBufferPointer<UInt8>, offset: Int, lines: LineIndex, path: String,
        scratch: ByteRegex.Scratch
    ) -> [Located] {
        var findings: [Located] = []
        for match in matches {
            var secretRange: Range<Int>?
            if match.groups.isEmpty {
                secretRange = match.range
            } else if rule.rule.secretGroup > 0 {
                guard rule.rule.secretGroup <= match.groups.count else { continue }
                secretRange = match.groups[rule.rule.secretGroup - 1]
            } else {
                secretRange = match.groups.first { $0.map { !$0.isEmpty } ?? false } ?? nil
            }
            guard let range = secretRange, !range.isEmpty else { continue }
            // Entropy first, on the bytes: most candidates (names assigned from names) stop here.
            let secretBytes = UnsafeBufferPointer(rebasing: text[range])
            if rule.rule.entropy > 0 && !Self.entropy(of: secretBytes, isAbove: rule.rule.entropy) { continue }
            let secret = String(decoding: secretBytes, as: UTF8.self)
            let position = offset + range.lowerBound
            // The match and the line become Strings only for an allowlist that reads them; line
            // bounds come from the file's newline index (built once, on the first need), never
            // from scanning a possibly megabyte-long line per candidate.
            let whole = { String(decoding: UnsafeBufferPointer(rebasing: text[match.range]), as: UTF8.self) }
            let line = { lines.text(ofLineAt: position) }
            if allowed(rule: rule, secret: secret, match: whole, line: line, path: path, scratch: scratch) { continue }
            let entropy = Self.asciiEntropy(secretBytes) ?? Self.shannonEntropy(secret)
            let (lineNumber, lineStart) = lines.position(of: position)
            findings.append(
                Located(
                    finding: Finding(
                        ruleID: rule.rule.id, severity: .block, path: path, line: lineNumber,
                        column: position - lineStart + 1, message: rule.rule.description, match: Self.redact(secret),
                        entropy: (entropy * 100).rounded() / 100,
                        fix: "remove the secret from \(path) and rotate it if it was real"),
                    span: (offset + range.lowerBound)..<(offset + range.upperBound)))
        }
        return findings
    }

    private func allowed(rule: CompiledRule, secret: String, match: () -> String, line: () -> String, path: String, scratch: ByteRegex.Scratch) -> Bool {
        rule.applicable.contains { Self.allows($0, secret: secret, match: match, line: line, path: path, scratch: scratch) }
    }

    /// Whether allowlist `a` clears a match; a regex the engine cannot decide clears nothing.
    /// The parts it has (stopwords, paths, regexes) are combined by its condition, cheapest
    /// first, and the first part that settles the answer ends the check (OR: one that holds;
    /// AND: one that does not). A list with no parts clears nothing.
    static func allows(_ a: CompiledAllowlist, secret: String, match: () -> String, line: () -> String, path: String, scratch: ByteRegex.Scratch) -> Bool {
        if a.regexes.isEmpty && a.paths.isEmpty && a.stopwords.isEmpty { return false }
        let settles = a.list.condition == .or
        if !a.stopwords.isEmpty && a.stopwords.occur(in: secret) == settles { return settles }
        if !a.paths.isEmpty && a.paths.contains(where: { $0.contains(path, scratch: scratch, onLimit: false) }) == settles { return settles }
        if !a.regexes.isEmpty {
            let target: String
            switch a.list.regexTarget {
            case .secret: target = secret
            case .match: target = match()
            case .line: target = line()
            }
            if a.regexes.contains(where: { $0.contains(target, scratch: scratch, onLimit: false) }) == settles { return settles }
        }
        return !settles
    }

    /// Keeps the first four characters of a long secret, masks the rest.
    public static func redact(_ secret: String) -> String {
        let count = secret.count
        if count < 12 { return "[\(count) chars]" }
        return String(secret.prefix(4)) + "…[\(count) chars]"
    }

    static func asciiLowercased(_ bytes: [UInt8]) -> [UInt8] {
        bytes.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }
    }

    /// Whether `needle` occurs in `haystack` (the keyword check without Hyperscan).
    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard let first = needle.first else { return true }
        guard haystack.count >= needle.count else { return false }
        var i = 0
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == first && haystack[i..<(i + needle.count)].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }

    /// Line-aligned windows covering each end and the bytes before it, merged when they overlap.
    static func windows(_ bytes: UnsafeBufferPointer<UInt8>, ends: [Int], lookback: Int) -> [Range<Int>] {
        var result: [Range<Int>] = []
        for end in ends.sorted() {
            var start = max(0, end - lookback)
            var scan = start
            while scan > 0 && bytes[scan - 1] != 10 && start - scan < 4096 { scan -= 1 }
            if scan == 0 || bytes[scan - 1] == 10 { start = scan }
            var stop = min(end, bytes.count)
            while stop < bytes.count && bytes[stop] != 10 && stop - end < 4096 { stop += 1 }
            if let last = result.last, start <= last.upperBound {
                result[result.count - 1] = last.lowerBound..<max(last.upperBound, stop)
            } else {
                result.append(start..<stop)
            }
        }
        return result
    }
}
