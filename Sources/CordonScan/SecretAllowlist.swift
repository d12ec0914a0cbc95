/// A gitleaks allowlist: matches that are known not to be secrets.
public struct SecretAllowlist: Sendable, Equatable {
    public enum Condition: String, Sendable { case or = "OR", and = "AND" }
    /// What `regexes` are matched against.
    public enum Target: String, Sendable { case secret, match, line }
    public var description: String = ""
    public var condition: Condition = .or
    public var regexTarget: Target = .secret
    public var regexes: [String] = []
    public var paths: [String] = []
    public var stopwords: [String] = []
    /// For global `[[allowlists]]`: only these rule ids (empty: all rules).
    public var targetRules: [String] = []
    public init() {}
}
