public import CordonCore
import Foundation

/// Finds secrets in file contents with a `RuleSet`.
///
/// One Hyperscan pass over each file reports which rules can match and where, and which rule
/// keywords occur; only then does the exact regex (ICU, from Foundation) run, on windows around the
/// reported ends, to extract the secret group and apply entropy and allowlists. Rules Hyperscan
/// rejects run with the exact regex alone, gated by their keywords. A rule that neither engine can
/// compile fails the whole scanner: a gate with a missing rule must not pass files.
public final class SecretScanner: @unchecked Sendable {
    struct CompiledRule {
        var rule: SecretRule
        var regex: NSRegularExpression?
        var path: NSRegularExpression?
        var allowlists: [CompiledAllowlist]
        /// How far before a reported end a match may start.
        var lookback: Int
        var inHyperscan = false
    }

    struct CompiledAllowlist {
        var list: SecretAllowlist
        var regexes: [NSRegularExpression]
        var paths: [NSRegularExpression]
    }

    let rules: [CompiledRule]
    let global: [CompiledAllowlist]
    let keywords: [String]
    let hyperscan: HyperscanDatabase?
    /// Rule ids Hyperscan could not take (they run on the exact engine alone).
    public let fallbackRules: [String]
    static let keywordBase: UInt32 = 1 << 20

    /// Compiles `ruleSet`; `useHyperscan: false` forces the portable path (tests compare the two).
    public init(_ ruleSet: RuleSet, useHyperscan: Bool = true) throws(CordonError) {
        var compiled: [CompiledRule] = []
        for rule in ruleSet.rules {
            let regex = try rule.regex.map { pattern throws(CordonError) in try Self.compile(Self.confirmSyntax(pattern), rule: rule.id) }
            let path = try rule.path.map { pattern throws(CordonError) in try Self.compile(pattern, rule: rule.id) }
            let allowlists = try rule.allowlists.map { list throws(CordonError) in try Self.compile(list, rule: rule.id) }
            compiled.append(CompiledRule(rule: rule, regex: regex, path: path, allowlists: allowlists, lookback: Self.lookback(for: rule.regex ?? "", hyperscan: useHyperscan)))
        }
        global = try ruleSet.allowlists.map { list throws(CordonError) in try Self.compile(list, rule: "global allowlist") }
        let words = Array(Set(ruleSet.rules.flatMap(\.keywords))).sorted()
        keywords = words
        var database: HyperscanDatabase?
        if useHyperscan {
            var patterns: [HyperscanDatabase.Pattern] = []
            for (index, rule) in compiled.enumerated() {
                if let regex = rule.rule.regex { patterns.append(.init(expression: Self.hyperscanSyntax(regex), id: UInt32(index))) }
            }
            for (index, word) in words.enumerated() {
                patterns.append(.init(expression: Self.escapeLiteral(word), id: Self.keywordBase + UInt32(index), caseless: true, singleMatch: true))
            }
            database = patterns.isEmpty ? nil : HyperscanDatabase(patterns)
            if let db = database {
                let accepted = Set(db.accepted)
                for index in compiled.indices where accepted.contains(UInt32(index)) { compiled[index].inHyperscan = true }
                if db.rejected.contains(where: { $0.id >= Self.keywordBase }) { database = nil }
            }
        }
        if database == nil {
            for index in compiled.indices { compiled[index].inHyperscan = false }
        }
        hyperscan = database
        rules = compiled
        fallbackRules = compiled.filter { $0.rule.regex != nil && !$0.inHyperscan }.map(\.rule.id)
    }

    /// Whether Hyperscan is doing the first pass.
    public var usesHyperscan: Bool { hyperscan != nil }

    /// Scans one file's bytes; `path` is what findings report and path rules/allowlists see.
    public func scan(_ bytes: [UInt8], path: String) -> [Finding] {
        let session = Session(scanner: self)
        return session.scan(bytes, path: path)
    }

    /// Per-thread state (Hyperscan scratch); reuse one per worker for many files.
    public final class Session {
        let scanner: SecretScanner
        let scratch: HyperscanDatabase.Scratch?
        public init(scanner: SecretScanner) {
            self.scanner = scanner
            scratch = scanner.hyperscan?.makeScratch()
        }

        public func scan(_ bytes: [UInt8], path: String) -> [Finding] {
            scanner.scan(bytes, path: path, scratch: scratch)
        }
    }

    /// Content that looks binary (a NUL byte in the first 8000 bytes, git's own test).
    public static func isBinary(_ bytes: [UInt8]) -> Bool {
        bytes.prefix(8000).contains(0)
    }

    func scan(_ bytes: [UInt8], path: String, scratch: HyperscanDatabase.Scratch?) -> [Finding] {
        var findings: [Finding] = []
        // Path-only rules apply to any file, binary or not.
        for rule in rules where rule.regex == nil {
            guard let p = rule.path, Self.matches(p, path) else { continue }
            if allowed(rule: rule, secret: "", match: { "" }, line: { "" }, path: path) { continue }
            findings.append(
                Finding(
                    ruleID: rule.rule.id, severity: .block, path: path, message: rule.rule.description,
                    fix: "remove \(path) from the change set, or add an allowlist entry for it if it holds no secret"))
        }
        if Self.isBinary(bytes) { return findings }
        if global.contains(where: { !$0.paths.isEmpty && $0.regexes.isEmpty && $0.list.stopwords.isEmpty && $0.paths.contains { Self.matches($0, path) } }) {
            return findings
        }
        var present = Set<Int>()
        var ends: [Int: [Int]] = [:]
        if let hyperscan = scanner(scratch) {
            var hits: [(id: UInt32, end: Int)] = []
            _ = bytes.withUnsafeBytes { hyperscan.0.scan($0, scratch: hyperscan.1, into: &hits) }
            for hit in hits {
                if hit.id >= Self.keywordBase { present.insert(Int(hit.id - Self.keywordBase)) } else { ends[Int(hit.id), default: []].append(hit.end) }
            }
        } else {
            let lower = String(decoding: bytes, as: UTF8.self).lowercased()
            for (index, word) in keywords.enumerated() where lower.contains(word) { present.insert(index) }
        }
        let presentWords = Set(present.map { keywords[$0] })
        for (index, rule) in rules.enumerated() {
            guard let regex = rule.regex else { continue }
            if !rule.rule.keywords.isEmpty && !rule.rule.keywords.contains(where: presentWords.contains) { continue }
            if let p = rule.path, !Self.matches(p, path) { continue }
            let windows: [Range<Int>]
            if rule.inHyperscan {
                guard let hitEnds = ends[index] else { continue }
                windows = Self.windows(bytes, ends: hitEnds, lookback: rule.lookback)
            } else {
                windows = [0..<bytes.count]
            }
            for window in windows {
                findings += confirm(rule, regex: regex, bytes: bytes, window: window, path: path)
            }
        }
        return findings
    }

    private func scanner(_ scratch: HyperscanDatabase.Scratch?) -> (HyperscanDatabase, HyperscanDatabase.Scratch)? {
        guard let hyperscan, let scratch else { return nil }
        return (hyperscan, scratch)
    }

    /// Runs the exact regex over one window and turns surviving matches into findings.
    private func confirm(_ rule: CompiledRule, regex: NSRegularExpression, bytes: [UInt8], window: Range<Int>, path: String) -> [Finding] {
        let text = String(decoding: bytes[window], as: UTF8.self)
        let ns = text as NSString
        var findings: [Finding] = []
        for match in regex.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
            var secret = ""
            if match.numberOfRanges < 2 {
                secret = ns.substring(with: match.range)
            } else {
                if rule.rule.secretGroup > 0 {
                    guard rule.rule.secretGroup < match.numberOfRanges else { continue }
                    let r = match.range(at: rule.rule.secretGroup)
                    secret = r.location == NSNotFound ? "" : ns.substring(with: r)
                } else {
                    for group in 1..<match.numberOfRanges {
                        let r = match.range(at: group)
                        if r.location != NSNotFound && r.length > 0 {
                            secret = ns.substring(with: r)
                            break
                        }
                    }
                }
            }
            if secret.isEmpty { continue }
            let entropy = Self.shannonEntropy(secret)
            if rule.rule.entropy > 0 && entropy <= rule.rule.entropy { continue }
            // Position of the secret (or the match) within the window.
            let secretRange = ns.range(of: secret, options: [], range: match.range)
            let start = secretRange.location == NSNotFound ? match.range.location : secretRange.location
            let lineRange = ns.lineRange(for: NSRange(location: start, length: 0))
            // The match and the line become Strings only for an allowlist that reads them.
            let whole = { ns.substring(with: match.range) }
            let line = { ns.substring(with: lineRange).trimmingCharacters(in: .newlines) }
            if allowed(rule: rule, secret: secret, match: whole, line: line, path: path) { continue }
            // Line and column only for a surviving finding: counting is O(window).
            let lineNumber = Self.newlines(in: bytes, before: window.lowerBound + ns.substring(to: lineRange.location).utf8.count) + 1
            let column = ns.substring(with: NSRange(location: lineRange.location, length: start - lineRange.location)).utf8.count + 1
            findings.append(
                Finding(
                    ruleID: rule.rule.id, severity: .block, path: path, line: lineNumber, column: column,
                    message: rule.rule.description, match: Self.redact(secret), entropy: (entropy * 100).rounded() / 100,
                    fix: "remove the secret from \(path) and rotate it if it was real; inject credentials with cordon's secrets instead"))
        }
        return findings
    }

    private func allowed(rule: CompiledRule, secret: String, match: () -> String, line: () -> String, path: String) -> Bool {
        let applicable = rule.allowlists + global.filter { $0.list.targetRules.isEmpty || $0.list.targetRules.contains(rule.rule.id) }
        return applicable.contains { Self.allows($0, secret: secret, match: match, line: line, path: path) }
    }

    static func allows(_ a: CompiledAllowlist, secret: String, match: () -> String, line: () -> String, path: String) -> Bool {
        var results: [Bool] = []
        if !a.regexes.isEmpty {
            let target: String
            switch a.list.regexTarget {
            case .secret: target = secret
            case .match: target = match()
            case .line: target = line()
            }
            results.append(a.regexes.contains { matches($0, target) })
        }
        if !a.paths.isEmpty { results.append(a.paths.contains { matches($0, path) }) }
        if !a.list.stopwords.isEmpty {
            let lower = secret.lowercased()
            results.append(a.list.stopwords.contains { lower.contains($0) })
        }
        if results.isEmpty { return false }
        return a.list.condition == .and ? results.allSatisfy { $0 } : results.contains(true)
    }

    static func matches(_ regex: NSRegularExpression, _ text: String) -> Bool {
        regex.firstMatch(in: text, range: NSRange(location: 0, length: (text as NSString).length)) != nil
    }

    /// Shannon entropy in bits per character.
    public static func shannonEntropy(_ text: String) -> Double {
        // ASCII (nearly every secret): count bytes in a fixed table, no hashing.
        if let ascii = text.utf8.withContiguousStorageIfAvailable({ bytes -> Double? in
            guard bytes.allSatisfy({ $0 < 0x80 }), !bytes.isEmpty else { return nil }
            var table = [Int](repeating: 0, count: 128)
            for b in bytes { table[Int(b)] += 1 }
            var entropy = 0.0
            for count in table where count > 0 {
                let p = Double(count) / Double(bytes.count)
                entropy -= p * log2(p)
            }
            return entropy
        }), let ascii { return ascii }
        var counts: [Unicode.Scalar: Int] = [:]
        var total = 0
        for scalar in text.unicodeScalars {
            counts[scalar, default: 0] += 1
            total += 1
        }
        guard total > 0 else { return 0 }
        var entropy = 0.0
        for count in counts.values {
            let p = Double(count) / Double(total)
            entropy -= p * log2(p)
        }
        return entropy
    }

    /// Keeps the first four characters of a long secret, masks the rest.
    public static func redact(_ secret: String) -> String {
        let count = secret.count
        if count < 12 { return "[\(count) chars]" }
        return String(secret.prefix(4)) + "…[\(count) chars]"
    }

    /// Go RE2 syntax to ICU: named groups are the one common difference.
    static func icuSyntax(_ pattern: String) -> String {
        pattern.replacingOccurrences(of: "(?P<", with: "(?<")
    }

    /// The regex the confirm step runs: a leading lazy, optional class run (gitleaks' generic
    /// `[\w.-]{0,50}?` before the key name) is dropped. It only widens the match to the left and
    /// holds no group, but makes ICU retry up to 50 prefix lengths at every offset (the scan's
    /// main cost on source code). The match then starts at the key name.
    static func confirmSyntax(_ pattern: String) -> String {
        guard let prefix = pattern.range(of: #"^(\(\?[a-zA-Z]+\))?\[(?:\\.|[^\]\\])*\](?:\{0,\d+\}\?|\*\?)"#, options: .regularExpression) else {
            return pattern
        }
        let flags = pattern.range(of: #"^\(\?[a-zA-Z]+\)"#, options: .regularExpression).map { String(pattern[$0]) } ?? ""
        let rest = pattern[prefix.upperBound...]
        // A quantifier or alternation right after would change the meaning without the prefix.
        if rest.isEmpty || "*+?{|)".contains(rest.first!) { return pattern }
        return flags + rest
    }

    static func hyperscanSyntax(_ pattern: String) -> String {
        pattern.replacingOccurrences(of: "(?P<", with: "(?<")
    }

    static func escapeLiteral(_ word: String) -> String {
        var out = ""
        for scalar in word.unicodeScalars {
            if scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar)) { out.unicodeScalars.append(scalar) } else {
                out += String(format: "\\x%02x", scalar.value & 0xff)
            }
        }
        return out
    }

    static func compile(_ pattern: String, rule: String) throws(CordonError) -> NSRegularExpression {
        do { return try NSRegularExpression(pattern: icuSyntax(pattern)) } catch {
            throw CordonError(
                .invalidProfile, "rule \(rule): regex cannot be compiled: \(pattern)", hint: "fix the regex in the scanner config (gitleaks RE2 syntax)",
                cause: "\(error)")
        }
    }

    static func compile(_ list: SecretAllowlist, rule: String) throws(CordonError) -> CompiledAllowlist {
        var regexes: [NSRegularExpression] = []
        for r in list.regexes { regexes.append(try compile(r, rule: rule)) }
        var paths: [NSRegularExpression] = []
        for p in list.paths { paths.append(try compile(p, rule: rule)) }
        return CompiledAllowlist(list: list, regexes: regexes, paths: paths)
    }

    /// Newlines in `bytes` before `offset` (counted only for a surviving finding, never per window).
    static func newlines(in bytes: [UInt8], before offset: Int) -> Int {
        bytes.withUnsafeBufferPointer { buffer in
            var count = 0
            for i in 0..<offset where buffer[i] == 10 { count += 1 }
            return count
        }
    }

    /// Bytes before a reported match end worth re-reading: the pattern's longest match when
    /// Hyperscan can bound it, else a short or long guess from its quantifiers.
    static func lookback(for pattern: String, hyperscan: Bool) -> Int {
        if hyperscan, let width = HyperscanDatabase.maxWidth(hyperscanSyntax(pattern)) { return min(width + 16, 64 * 1024) }
        return lookback(for: pattern)
    }

    static func lookback(for pattern: String) -> Int {
        // Drop escapes and bracket expressions, then look for *, + or {n,} outside them.
        var outside = ""
        var inClass = false
        var escaped = false
        for ch in pattern {
            if escaped {
                escaped = false
                continue
            }
            if ch == "\\" {
                escaped = true
                continue
            }
            if inClass {
                if ch == "]" { inClass = false }
                continue
            }
            if ch == "[" {
                inClass = true
                continue
            }
            outside.append(ch)
        }
        let unbounded = outside.contains("*") || outside.contains("+") || outside.range(of: #"\{\d+,\}"#, options: .regularExpression) != nil
        return unbounded ? 64 * 1024 : 1024
    }

    /// Line-aligned windows covering each end and the bytes before it, merged when they overlap.
    static func windows(_ bytes: [UInt8], ends: [Int], lookback: Int) -> [Range<Int>] {
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
