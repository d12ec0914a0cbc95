public import CordonCore
import CordonOS
import CordonTOML

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

    /// The largest rule file read (the main one and each `[extend] path`): gitleaks' own
    /// default config is under 200 KiB.
    public static let maxFileSize = 16 * 1024 * 1024

    /// Reads a gitleaks TOML file; a relative `[extend] path` is resolved against its directory.
    public static func load(path: String) throws(CordonError) -> RuleSet {
        let bytes = try read(path, hint: "check the path given to --config or sync.gitleaks_config") { "cannot read scanner config \(path)" }
        return try parse(bytes, source: path)
    }

    /// One bounded whole-file read; more than `maxFileSize` bytes is an error naming the file.
    static func read(_ path: String, hint: String, _ what: () -> String) throws(CordonError) -> [UInt8] {
        let bytes: [UInt8]
        do { bytes = try FileIO.readFile(path, limit: maxFileSize + 1) } catch {
            throw CordonError(.notFound, what(), hint: hint, cause: "\(error)")
        }
        guard bytes.count <= maxFileSize else {
            throw CordonError(
                .invalidProfile, "\(what()): \(path) is larger than \(maxFileSize / (1024 * 1024)) MiB", hint: "a gitleaks config is a few hundred KiB at most",
                location: .init(file: path))
        }
        return bytes
    }

    public static func parse(_ text: String, source: String, depth: Int = 0) throws(CordonError) -> RuleSet {
        try parse(Array(text.utf8), source: source, depth: depth)
    }

    /// Parses a gitleaks config with CordonTOML; a syntax error's location is `source:line:column`.
    public static func parse(_ bytes: [UInt8], source: String, depth: Int = 0) throws(CordonError) -> RuleSet {
        let table: TOMLTable
        do { table = try TOMLDocument.parse(bytes) } catch {
            throw CordonError(
                .invalidProfile, error.message, hint: "fix the TOML syntax",
                location: .init(file: source, line: error.line, column: error.column))
        }
        var base = RuleSet(rules: [])
        var disabled: Set<String> = []
        if let extend = table["extend"]?.table {
            guard depth < 4 else { throw CordonError(.invalidProfile, "\(source): [extend] nests too deeply") }
            if extend["useDefault"]?.bool == true { base = try defaults() }
            if let path = extend["path"]?.string {
                let resolved = path.hasPrefix("/") ? path : directory(of: source) + "/" + path
                let bytes = try read(resolved, hint: "check [extend] path in \(source)") { "\(source): [extend] path \(resolved) cannot be read" }
                let extended = try parse(bytes, source: resolved, depth: depth + 1)
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

    private static func strings(_ value: TOMLValue?) -> [String] {
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
            id: id, description: t["description"]?.string ?? id, regex: regex, secretGroup: t["secretGroup"]?.integer.flatMap { Int(exactly: $0) } ?? 0,
            entropy: t["entropy"]?.float ?? Double(t["entropy"]?.integer ?? 0), keywords: strings(t["keywords"]), path: path, allowlists: allowlists)
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
