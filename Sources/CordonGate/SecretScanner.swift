public import CordonCore
import Foundation

/// Finds secrets in file contents with a `RuleSet`.
///
/// One Hyperscan pass over each file reports which rules can match and where, and which rule
/// keywords occur; only then does the exact regex (PCRE2, JIT-compiled, over the file's bytes) run
/// on windows around the reported ends, to extract the secret group and apply entropy and
/// allowlists. Rules Hyperscan rejects run with the exact regex alone, gated by their keywords. A
/// rule that neither engine can compile fails the whole scanner: a gate with a missing rule must
/// not pass files.
public final class SecretScanner: @unchecked Sendable {
    struct CompiledRule {
        var rule: SecretRule
        var regex: ByteRegex?
        var path: ByteRegex?
        var allowlists: [CompiledAllowlist]
        /// `allowlists` plus the global ones that target this rule (what `allowed` checks).
        var applicable: [CompiledAllowlist] = []
        /// How far before a reported end a match may start.
        var lookback: Int
        var inHyperscan = false
        /// For a rule whose regex must begin with one of a few literals (the generic rule's key
        /// names): those literals, and the regex compiled anchored. Hyperscan then reports where
        /// the literals occur and the exact regex is tried at each, instead of Hyperscan running
        /// the whole regex (which costs it 3-4x on code full of `key`/`token` names).
        var anchors: [String] = []
        var anchoredRegex: ByteRegex?
        var gate: AnchorGate?
        var anchoredInHyperscan = false
        /// The rule's keywords as indices into the scanner's `keywords`.
        var keywordIndices: [Int] = []
    }

    struct CompiledAllowlist {
        var list: SecretAllowlist
        var regexes: [ByteRegex]
        var paths: [ByteRegex]
        var stopwords: Stopwords
    }

    /// Where an anchor literal's Hyperscan hits lead: the rule, the literal's length, and the
    /// rule's test of what must follow the literal (nil: try every place).
    struct Anchor {
        var rule: Int
        var length: Int
        var gate: AnchorGate?
        /// Where the gate's table starts in `gateTables`.
        var gateTable = 0
    }

    let rules: [CompiledRule]
    let global: [CompiledAllowlist]
    let keywords: [String]
    /// The keywords as ASCII-lowercased bytes, for the scan without Hyperscan.
    let keywordBytes: [[UInt8]]
    let hyperscan: HyperscanDatabase?
    /// Hyperscan ids from `anchorBase` on, in order.
    let anchorTable: [Anchor]
    /// The anchored rules' gate tables (`AnchorGate.table`), one after another.
    let gateTables: [UInt8]
    /// The most capturing groups of any regex here (sizes each session's match data).
    let maxGroups: Int
    /// Rule ids Hyperscan could not take (they run on the exact engine alone).
    public let fallbackRules: [String]
    /// How far a scan looks beneath each file (decodings, archives); see `scanAll`.
    public let limits: ScanLimits
    static let keywordBase: UInt32 = 1 << 20
    static let anchorBase: UInt32 = 1 << 21
    /// The two characters whose Unicode case folding gives an ASCII letter (U+212A KELVIN SIGN is
    /// `k`, U+017F LONG S is `s`): PCRE2 folds them under `(?i)`, Hyperscan's literals do not, so
    /// a file holding one is scanned without the anchor shortcut, and with every keyword taken as
    /// present (gitleaks lower-cases the file with the same folding before its keyword check).
    static let foldHazard: UInt32 = 1 << 22

    /// Compiles `ruleSet`; `useHyperscan: false` forces the portable path (tests compare the two).
    /// `cacheDirectory` keeps compiled Hyperscan databases between runs (a compile of the default
    /// rules costs ~0.2 s; loading one, milliseconds).
    public init(_ ruleSet: RuleSet, useHyperscan: Bool = true, cacheDirectory: String? = nil, limits: ScanLimits = ScanLimits()) throws(CordonError) {
        self.limits = limits
        var compiled: [CompiledRule] = []
        for rule in ruleSet.rules {
            let regex = try rule.regex.map { pattern throws(CordonError) in try Self.compile(Self.confirmSyntax(pattern), rule: rule.id) }
            let path = try rule.path.map { pattern throws(CordonError) in try Self.compile(pattern, rule: rule.id) }
            let allowlists = try rule.allowlists.map { list throws(CordonError) in try Self.compile(list, rule: rule.id) }
            var entry = CompiledRule(rule: rule, regex: regex, path: path, allowlists: allowlists, lookback: Self.lookback(for: rule.regex ?? "", hyperscan: useHyperscan))
            if useHyperscan, let pattern = rule.regex, let anchors = Self.leadingLiterals(Self.confirmSyntax(pattern)) {
                entry.anchors = anchors
                entry.anchoredRegex = try? ByteRegex(Self.confirmSyntax(pattern), anchored: true)
                entry.gate = AnchorGate.derive(from: Self.confirmSyntax(pattern))
            }
            compiled.append(entry)
        }
        let global = try ruleSet.allowlists.map { list throws(CordonError) in try Self.compile(list, rule: "global allowlist") }
        self.global = global
        for index in compiled.indices {
            let id = compiled[index].rule.id
            compiled[index].applicable = compiled[index].allowlists + global.filter { $0.list.targetRules.isEmpty || $0.list.targetRules.contains(id) }
        }
        let words = Array(Set(ruleSet.rules.flatMap(\.keywords))).sorted()
        keywords = words
        let wordIndex = Dictionary(uniqueKeysWithValues: words.enumerated().map { ($1, $0) })
        for index in compiled.indices { compiled[index].keywordIndices = compiled[index].rule.keywords.compactMap { wordIndex[$0] } }
        keywordBytes = words.map { Self.asciiLowercased(Array($0.utf8)) }
        var database: HyperscanDatabase?
        var anchorTable: [Anchor] = []
        var gateTables: [UInt8] = []
        if useHyperscan {
            var patterns: [HyperscanDatabase.Pattern] = []
            for (index, rule) in compiled.enumerated() {
                guard let regex = rule.rule.regex else { continue }
                if rule.anchoredRegex != nil {
                    let table = gateTables.count
                    if let gate = rule.gate { gateTables += gate.table }
                    for literal in rule.anchors {
                        patterns.append(.init(expression: Self.escapeLiteral(literal), id: Self.anchorBase + UInt32(anchorTable.count), caseless: true))
                        anchorTable.append(Anchor(rule: index, length: literal.utf8.count, gate: rule.gate, gateTable: table))
                    }
                } else {
                    patterns.append(.init(expression: Self.hyperscanSyntax(regex), id: UInt32(index)))
                }
            }
            for (index, word) in words.enumerated() {
                patterns.append(.init(expression: Self.escapeLiteral(word), id: Self.keywordBase + UInt32(index), caseless: true, singleMatch: true))
            }
            patterns.append(.init(expression: #"\xe2\x84\xaa|\xc5\xbf"#, id: Self.foldHazard, singleMatch: true))
            database = patterns.isEmpty ? nil : HyperscanDatabase(patterns, cacheDirectory: cacheDirectory)
            if let db = database {
                let accepted = Set(db.accepted)
                for index in compiled.indices where accepted.contains(UInt32(index)) { compiled[index].inHyperscan = true }
                // Literals always compile; if one did not, Hyperscan cannot be trusted with the prefilter.
                if db.rejected.contains(where: { $0.id >= Self.keywordBase }) { database = nil }
            }
        }
        if database == nil {
            anchorTable = []
            gateTables = []
            for index in compiled.indices {
                compiled[index].inHyperscan = false
                compiled[index].anchoredRegex = nil
            }
        }
        for index in compiled.indices where compiled[index].anchoredRegex != nil { compiled[index].anchoredInHyperscan = true }
        self.anchorTable = anchorTable
        self.gateTables = gateTables
        hyperscan = database
        rules = compiled
        let allRegexes = compiled.flatMap { [$0.regex, $0.path].compactMap { $0 } + $0.allowlists.flatMap { $0.regexes + $0.paths } }
            + global.flatMap { $0.regexes + $0.paths }
        maxGroups = allRegexes.map(\.groupCount).max() ?? 0
        fallbackRules = compiled.filter { $0.rule.regex != nil && !$0.inHyperscan && !$0.anchoredInHyperscan }.map(\.rule.id)
    }

    /// Whether Hyperscan is doing the first pass.
    public var usesHyperscan: Bool { hyperscan != nil }

    /// Scans one file's bytes; `path` is what findings report and path rules/allowlists see.
    public func scan(_ bytes: [UInt8], path: String) -> [Finding] {
        Session(scanner: self).scan(bytes, path: path)
    }

    /// Per-thread state (Hyperscan and PCRE2 scratch); reuse one per worker for many files.
    public final class Session {
        let scanner: SecretScanner
        let hyperscanScratch: HyperscanDatabase.Scratch?
        let regexScratch: ByteRegex.Scratch
        /// Reused per file: Hyperscan's hits, and per rule the ends and anchor starts among them.
        var hits: [(id: UInt32, end: Int)] = []
        var ends: [[Int]]
        var starts: [[Int]]
        var present: [Bool]
        public init(scanner: SecretScanner) {
            self.scanner = scanner
            hyperscanScratch = scanner.hyperscan?.makeScratch()
            regexScratch = ByteRegex.Scratch(groups: scanner.maxGroups)
            ends = Array(repeating: [], count: scanner.rules.count)
            starts = Array(repeating: [], count: scanner.rules.count)
            present = Array(repeating: false, count: scanner.keywords.count)
        }

        public func scan(_ bytes: [UInt8], path: String) -> [Finding] {
            bytes.withUnsafeBufferPointer { scanner.scanAll($0, path: path, session: self) }
        }
    }

    /// Content that looks binary (a NUL byte in the first 8000 bytes, git's own test).
    public static func isBinary(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { isBinary($0) }
    }

    static func isBinary(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return false }
        return memchr(base, 0, min(bytes.count, 8000)) != nil
    }

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
        for (index, rule) in rules.enumerated() {
            guard let regex = rule.regex else { continue }
            if !rule.keywordIndices.isEmpty && !rule.keywordIndices.contains(where: { session.present[$0] }) { continue }
            if let p = rule.path, !p.contains(path, scratch: scratch, onLimit: true) { continue }
            if rule.anchoredInHyperscan, !wholeFile, let anchored = rule.anchoredRegex {
                if session.starts[index].isEmpty { continue }
                findings += confirmAnchored(rule, regex: anchored, bytes: bytes, starts: session.starts[index], path: path, scratch: scratch, lines: lines)
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
                findings += confirm(rule, regex: regex, bytes: bytes, window: window, path: path, scratch: scratch, lines: lines)
            }
        }
        return findings
    }

    /// Runs the exact regex over one window and turns surviving matches into findings.
    private func confirm(
        _ rule: CompiledRule, regex: ByteRegex, bytes: UnsafeBufferPointer<UInt8>, window: Range<Int>, path: String, scratch: ByteRegex.Scratch,
        lines: LineIndex
    ) -> [Finding] {
        let text = UnsafeBufferPointer(rebasing: bytes[window])
        do {
            let matches = try regex.matches(in: text, scratch: scratch)
            return findings(rule, matches: matches, text: text, offset: window.lowerBound, lines: lines, path: path, scratch: scratch)
        } catch {
            return [undecided(rule, lines: lines, at: window.lowerBound, path: path, error: error)]
        }
    }

    /// Tries the anchored regex at each place one of the rule's leading literals occurs, left to
    /// right, skipping places inside the previous match: the same non-overlapping, leftmost
    /// matches a scan of the whole file gives, since every match starts at such a literal.
    private func confirmAnchored(
        _ rule: CompiledRule, regex: ByteRegex, bytes: UnsafeBufferPointer<UInt8>, starts: [Int], path: String, scratch: ByteRegex.Scratch,
        lines: LineIndex
    ) -> [Finding] {
        var matches: [ByteRegex.Match] = []
        var next = 0
        for start in starts.sorted() where start >= next {
            do {
                guard let match = try regex.firstMatch(in: bytes, from: start, scratch: scratch) else { continue }
                matches.append(match)
                next = match.range.isEmpty ? match.range.upperBound + 1 : match.range.upperBound
            } catch {
                return [undecided(rule, lines: lines, at: start, path: path, error: error)]
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
    ) -> [Finding] {
        var findings: [Finding] = []
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
                Finding(
                    ruleID: rule.rule.id, severity: .block, path: path, line: lineNumber,
                    column: position - lineStart + 1, message: rule.rule.description, match: Self.redact(secret),
                    entropy: (entropy * 100).rounded() / 100,
                    fix: "remove the secret from \(path) and rotate it if it was real; inject credentials with cordon's secrets instead"))
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

    /// Whether the Shannon entropy of `bytes` is above `threshold`: for ASCII, as log2 n − Σ c·log2 c / n
    /// with c·log2 c from a table (no logarithm per distinct byte); within 1e-9 of the threshold,
    /// and for other text, the exact sum of `asciiEntropy`/`shannonEntropy` decides, so the answer
    /// is always theirs.
    static func entropy(of bytes: UnsafeBufferPointer<UInt8>, isAbove threshold: Double) -> Bool {
        guard let estimate = estimatedEntropy(bytes), abs(estimate - threshold) > 1e-9 else {
            return (asciiEntropy(bytes) ?? shannonEntropy(String(decoding: bytes, as: UTF8.self))) > threshold
        }
        return estimate > threshold
    }

    private static let countTimesLog2: [Double] = (0...256).map { $0 == 0 ? 0 : Double($0) * log2(Double($0)) }

    /// The entropy of ASCII `bytes` by the table; nil when empty, not ASCII or longer than the table.
    static func estimatedEntropy(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        guard !bytes.isEmpty, bytes.count <= 256 else { return nil }
        return withUnsafeTemporaryAllocation(of: UInt16.self, capacity: 128) { table -> Double? in
            table.initialize(repeating: 0)
            for b in bytes {
                if b >= 0x80 { return nil }
                table[Int(b)] += 1
            }
            // Each distinct byte once: its count is read, then cleared.
            var sum = 0.0
            countTimesLog2.withUnsafeBufferPointer { terms in
                for b in bytes where table[Int(b)] > 0 {
                    sum += terms[Int(table[Int(b)])]
                    table[Int(b)] = 0
                }
            }
            let n = Double(bytes.count)
            return log2(n) - sum / n
        }
    }

    /// Shannon entropy in bits per byte of ASCII text; nil when `bytes` is empty or not ASCII.
    static func asciiEntropy(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        guard !bytes.isEmpty, bytes.allSatisfy({ $0 < 0x80 }) else { return nil }
        // Count bytes in a fixed table, no hashing, no allocation.
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: 128) { table in
            table.initialize(repeating: 0)
            for b in bytes { table[Int(b)] += 1 }
            var entropy = 0.0
            for count in table where count > 0 {
                let p = Double(count) / Double(bytes.count)
                entropy -= p * log2(p)
            }
            return entropy
        }
    }

    /// Shannon entropy in bits per character.
    public static func shannonEntropy(_ text: String) -> Double {
        if let ascii = text.utf8.withContiguousStorageIfAvailable({ asciiEntropy($0) }), let ascii { return ascii }
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

    /// The regex the confirm step runs: a leading lazy, optional class run (gitleaks' generic
    /// `[\w.-]{0,50}?` before the key name) is dropped. It only widens the match to the left and
    /// holds no group, but makes a backtracking engine retry up to 50 prefix lengths at every offset (the scan's
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

    /// The literals a pattern must begin with, when it is `(?i)?(?:lit|lit|…)` followed by something
    /// other than a quantifier (a literal is letters, digits and `_`); nil otherwise.
    static func leadingLiterals(_ pattern: String) -> [String]? {
        guard let head = pattern.range(of: #"^(\(\?i\))?\(\?:[A-Za-z0-9_]+(\|[A-Za-z0-9_]+)*\)"#, options: .regularExpression) else { return nil }
        let rest = pattern[head.upperBound...]
        if let next = rest.first, "*+?{|".contains(next) { return nil }
        let body = pattern[head].drop { $0 != ":" }.dropFirst().dropLast()
        let literals = body.split(separator: "|").map(String.init)
        return literals.isEmpty ? nil : literals
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

    static func compile(_ pattern: String, rule: String) throws(CordonError) -> ByteRegex {
        do { return try ByteRegex(pattern) } catch {
            throw CordonError(
                .invalidProfile, "rule \(rule): regex cannot be compiled: \(pattern)", hint: "fix the regex in the scanner config (gitleaks RE2 syntax)",
                cause: "\(error)")
        }
    }

    static func compile(_ list: SecretAllowlist, rule: String) throws(CordonError) -> CompiledAllowlist {
        var regexes: [ByteRegex] = []
        for r in list.regexes { regexes.append(try compile(r, rule: rule)) }
        var paths: [ByteRegex] = []
        for p in list.paths { paths.append(try compile(p, rule: rule)) }
        return CompiledAllowlist(list: list, regexes: regexes, paths: paths, stopwords: Stopwords(list.stopwords))
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

/// An allowlist's stopwords: does a secret contain any of them (ASCII case-insensitive)? Words are
/// filed under their first byte, so each offset of the secret costs one table lookup and compares
/// only the few words starting with that byte, however many a config lists (gitleaks' own has well
/// over a thousand).
struct Stopwords {
    private var byFirstByte: [[[UInt8]]] = Array(repeating: [], count: 256)
    let isEmpty: Bool

    init(_ words: [String]) {
        var any = false
        for word in Set(words) where !word.isEmpty {
            let bytes = SecretScanner.asciiLowercased(Array(word.utf8))
            byFirstByte[Int(bytes[0])].append(bytes)
            any = true
        }
        isEmpty = !any
    }

    func occur(in text: String) -> Bool {
        var text = text
        return text.withUTF8 { raw in
            for start in raw.indices {
                let first = raw[start] >= 65 && raw[start] <= 90 ? raw[start] | 0x20 : raw[start]
                for word in byFirstByte[Int(first)] where word.count <= raw.count - start {
                    var equal = true
                    for offset in 1..<word.count {
                        let byte = raw[start + offset]
                        if (byte >= 65 && byte <= 90 ? byte | 0x20 : byte) != word[offset] {
                            equal = false
                            break
                        }
                    }
                    if equal { return true }
                }
            }
            return false
        }
    }
}

/// Line numbers for one file's findings: the newline offsets are found once (memchr), on the
/// first finding, then each lookup is a binary search (a test-vector file with hundreds of keys
/// would otherwise be re-counted from the start for every one).
final class LineIndex {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var newlines: [Int]?

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// The 1-based line holding byte `offset`.
    func line(at offset: Int) -> Int { position(of: offset).line }

    /// The 1-based line holding byte `offset`, and the offset where that line starts.
    func position(of offset: Int) -> (line: Int, start: Int) {
        let offsets = newlines ?? build()
        var low = 0
        var high = offsets.count
        while low < high {
            let mid = (low + high) / 2
            if offsets[mid] < offset { low = mid + 1 } else { high = mid }
        }
        return (low + 1, low == 0 ? 0 : offsets[low - 1] + 1)
    }

    /// The offset where 1-based `line` starts.
    func start(ofLine line: Int) -> Int {
        let offsets = newlines ?? build()
        guard line > 1 else { return 0 }
        return line - 2 < offsets.count ? offsets[line - 2] + 1 : bytes.count
    }

    /// The line holding byte `offset`, without its line break.
    func text(ofLineAt offset: Int) -> String {
        let (line, start) = position(of: offset)
        let offsets = newlines ?? []
        var end = line - 1 < offsets.count ? offsets[line - 1] : bytes.count
        if end > start && bytes[end - 1] == 13 { end -= 1 }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }

    private func build() -> [Int] {
        var offsets: [Int] = []
        if let base = bytes.baseAddress {
            var position = 0
            while position < bytes.count, let hit = memchr(base + position, 10, bytes.count - position) {
                let index = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                offsets.append(index)
                position = index + 1
            }
        }
        newlines = offsets
        return offsets
    }
}
