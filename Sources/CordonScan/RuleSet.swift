public import CordonCore
import FoundationEssentials
import TOMLKit

/// Rules and global allowlists, read from gitleaks' TOML format.
///
/// Supported keys: `[[rules]]` (`id`, `description`, `regex`, `secretGroup`, `entropy`, `keywords`,
/// `path`, `[rules.allowlist]`, `[[rules.allowlists]]`), the global `[allowlist]` and
/// `[[allowlists]]` (with `targetRules`), and `[extend]` (`useDefault` extends cordon's default
/// rules; `path` another file; `disabledRules`). Unknown keys (`tags`, `title`, …) are ignored.
public struct RuleSet: Sendable, Equatable {
    public var rules: [SecretRule]
    public var allowlists: [SecretAllowlist]
    public init(rules: [SecretRule], allowlists: [SecretAllowlist] = []) {
        self.rules = rules
        self.allowlists = allowlists
    }

    /// cordon's own rules (see `DefaultRules`).
    public static func defaults() throws(CordonError) -> RuleSet {
        try parse(DefaultRules.toml, source: "cordon default rules")
    }

    /// Reads a gitleaks TOML file; a relative `[extend] path` is resolved against its directory.
    public static func load(path: String) throws(CordonError) -> RuleSet {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw CordonError(
                .notFound, "cannot read scanner config \(path)", hint: "check the path given to --config or sync.gitleaks_config", cause: "\(error)")
        }
        return try parse(text, source: path)
    }

    /// TOMLKit's parser (toml++) aborts the process, on an assertion, at a table header whose
    /// name is missing (`[ ` and the line's end) or starts with a character that cannot start a
    /// key: non-ASCII (`[é]`), a control character, a bracket (found by fuzz/, target rules). Such
    /// a line is refused here first, naming it. (A line of a multi-line string or array that looks
    /// like one is refused too: gitleaks configs have no nested arrays.)
    static func refuseNonASCIIHeaderStart(_ text: String, source: String) throws(CordonError) {
        var number = 0
        for line in text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false) {
            number += 1
            var rest = line.drop { $0 == 0x20 || $0 == 0x09 }
            guard rest.first == UInt8(ascii: "[") else { continue }
            rest = rest.dropFirst()
            if rest.first == UInt8(ascii: "[") { rest = rest.dropFirst() }
            rest = rest.drop { $0 == 0x20 || $0 == 0x09 }
            guard let first = rest.first, canStartKey(first) else {
                throw CordonError(
                    .invalidProfile,
                    "\(source):\(number): a table name is missing or starts with a character that cannot start a key (non-ASCII, a control character, a bracket)",
                    hint: "quote the name ([\"name\"]); cordon's TOML parser cannot read it bare",
                    location: .init(file: source, line: number))
            }
        }
    }

    /// A bare key's letters, digits, `_`, `-`, or a quote.
    private static func canStartKey(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "\""), UInt8(ascii: "'"): true
        default: false
        }
    }

    public static func parse(_ text: String, source: String, depth: Int = 0) throws(CordonError) -> RuleSet {
        try refuseNonASCIIHeaderStart(text, source: source)
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch let error as TOMLParseError {
            throw CordonError(
                .invalidProfile, error.description, hint: "fix the TOML syntax",
                location: .init(file: source, line: error.source.begin.line, column: error.source.begin.column))
        } catch {
            throw CordonError(.invalidProfile, "\(source) is not valid TOML", cause: "\(error)")
        }
        var base = RuleSet(rules: [])
        var disabled: Set<String> = []
        if let extend = table["extend"]?.table {
            guard depth < 4 else { throw CordonError(.invalidProfile, "\(source): [extend] nests too deeply") }
            if extend["useDefault"]?.bool == true { base = try defaults() }
            if let path = extend["path"]?.string {
                let resolved = path.hasPrefix("/") ? path : directory(of: source) + "/" + path
                let text: String
                do { text = try String(contentsOfFile: resolved, encoding: .utf8) } catch {
                    throw CordonError(.notFound, "\(source): [extend] path \(resolved) cannot be read", cause: "\(error)")
                }
                let extended = try parse(text, source: resolved, depth: depth + 1)
                base.rules += extended.rules
                base.allowlists += extended.allowlists
            }
            disabled = Set(strings(extend["disabledRules"]))
        }
        var rules: [SecretRule] = []
        if let array = table["rules"]?.array {
            for (index, value) in array.enumerated() {
                guard let rule = value.table else { throw CordonError(.invalidProfile, "\(source): rules[\(index)] is not a table") }
                rules.append(try parseRule(rule, index: index, source: source))
            }
        }
        // A rule with the id of an extended one replaces it (gitleaks merges; replacing is the common case).
        let ids = Set(rules.map(\.id))
        var merged = base.rules.filter { !ids.contains($0.id) && !disabled.contains($0.id) }
        merged += rules.filter { !disabled.contains($0.id) }
        var allowlists = base.allowlists
        if let global = table["allowlist"]?.table { allowlists.append(try parseAllowlist(global, context: "allowlist", source: source)) }
        if let array = table["allowlists"]?.array {
            for (index, value) in array.enumerated() {
                guard let t = value.table else { continue }
                allowlists.append(try parseAllowlist(t, context: "allowlists[\(index)]", source: source))
            }
        }
        return RuleSet(rules: merged, allowlists: allowlists)
    }

    private static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return String(path[..<slash])
    }

    private static func strings(_ value: (any TOMLValueConvertible)?) -> [String] {
        guard let array = value?.array else { return [] }
        return array.compactMap { $0.string }
    }

    private static func parseRule(_ t: TOMLTable, index: Int, source: String) throws(CordonError) -> SecretRule {
        guard let id = t["id"]?.string, !id.isEmpty else {
            throw CordonError(.invalidProfile, "\(source): rules[\(index)] has no id", hint: "every [[rules]] entry needs id = \"…\"")
        }
        let regex = t["regex"]?.string
        let path = t["path"]?.string
        guard regex != nil || path != nil else {
            throw CordonError(.invalidProfile, "\(source): rule \(id) has neither regex nor path", hint: "give the rule a regex, a path, or both")
        }
        var allowlists: [SecretAllowlist] = []
        if let single = t["allowlist"]?.table { allowlists.append(try parseAllowlist(single, context: "rule \(id) allowlist", source: source)) }
        if let array = t["allowlists"]?.array {
            for value in array { if let a = value.table { allowlists.append(try parseAllowlist(a, context: "rule \(id) allowlists", source: source)) } }
        }
        return SecretRule(
            id: id, description: t["description"]?.string ?? id, regex: regex, secretGroup: t["secretGroup"]?.int ?? 0,
            entropy: t["entropy"]?.double ?? Double(t["entropy"]?.int ?? 0), keywords: strings(t["keywords"]), path: path, allowlists: allowlists)
    }

    private static func parseAllowlist(_ t: TOMLTable, context: String, source: String) throws(CordonError) -> SecretAllowlist {
        var a = SecretAllowlist()
        a.description = t["description"]?.string ?? ""
        if let c = t["condition"]?.string {
            guard let condition = SecretAllowlist.Condition(rawValue: c.uppercased()) else {
                throw CordonError(.invalidProfile, "\(source): \(context): condition \"\(c)\" is not OR or AND")
            }
            a.condition = condition
        }
        if let target = t["regexTarget"]?.string {
            guard let value = SecretAllowlist.Target(rawValue: target) else {
                throw CordonError(.invalidProfile, "\(source): \(context): regexTarget \"\(target)\" is not secret, match or line")
            }
            a.regexTarget = value
        }
        a.regexes = strings(t["regexes"])
        a.paths = strings(t["paths"])
        a.stopwords = strings(t["stopwords"]).map { $0.lowercased() }
        a.targetRules = strings(t["targetRules"])
        return a
    }
}
