/// A gitleaks rule: a regex (and/or a path regex) with the filters that decide a real finding.
public struct SecretRule: Sendable, Equatable {
    public var id: String
    public var description: String
    public var regex: String?
    public var secretGroup: Int
    /// Minimum Shannon entropy (bits per character) of the secret; 0 means no check.
    public var entropy: Double
    /// Lower-case words one of which must occur in the file before the rule is tried.
    public var keywords: [String]
    public var path: String?
    public var allowlists: [SecretAllowlist]
    public init(
        id: String, description: String = "", regex: String? = nil, secretGroup: Int = 0, entropy: Double = 0, keywords: [String] = [],
        path: String? = nil, allowlists: [SecretAllowlist] = []
    ) {
        self.id = id
        self.description = description
        self.regex = regex
        self.secretGroup = secretGroup
        self.entropy = entropy
        self.keywords = keywords.map { $0.lowercased() }
        self.path = path
        self.allowlists = allowlists
    }
}
