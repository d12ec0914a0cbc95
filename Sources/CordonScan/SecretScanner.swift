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
            var entry = CompiledRule(
                rule: rule, regex: regex, path: path, allowlists: allowlists, lookback: Self.lookback(for: rule.regex ?? "", hyperscan: useHyperscan))
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
        let allRegexes =
            compiled.flatMap { [$0.regex, $0.path].compactMap { $0 } + $0.allowlists.flatMap { $0.regexes + $0.paths } }
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
}
