/// The profile's `egress` section, exactly as the network layer takes it (`Profile.Egress` is this
/// type): nothing maps one onto the other, so every field a profile can set reaches the proxy and
/// every field the proxy reads can be set from a profile. Values are kept as written (the profile
/// renders them back as is); `EgressConfiguration.check` and `EgressPolicy` read them with the one
/// grammar of this module, so what validation accepts the proxy accepts, and the reverse.
public struct EgressConfiguration: Sendable, Equatable, Codable {
    public struct DenyRule: Sendable, Equatable, Codable {
        /// A domain pattern, optionally with `:port` (`github.com:22`, `*.example.com`, `*`).
        public var domain: String
        /// Shown to the agent and the user when the rule refuses a connection.
        public var reason: String?

        public init(domain: String, reason: String? = nil) {
            self.domain = domain
            self.reason = reason
        }
    }

    public struct ParentProxy: Sendable, Equatable, Codable {
        /// `http://host:port` or `https://host:port` (TLS to the proxy itself); allowed traffic is
        /// tunnelled through it with CONNECT.
        public var url: String
        /// Domain patterns reached directly rather than through the parent.
        public var noProxy: [String]
        /// Host path of PEM CA certificates an `https://` parent's certificate must chain to (the
        /// system's trust store when nil). Read where the dialer is built, not here.
        public var caFile: String?

        public init(url: String, noProxy: [String] = [], caFile: String? = nil) {
            self.url = url
            self.noProxy = noProxy
            self.caFile = caFile
        }
    }

    public static let defaultMaxConnections = 512
    public static let defaultRequestTimeout = 10.0

    /// Allowed domain patterns: `example.com`, `*.example.com`, `.example.com`, each optionally `:port`.
    public var domains: [String]
    public var deny: [DenyRule]
    /// CIDRs that may be dialled although private (`127.0.0.0/8`, `fd00::/8`).
    public var allowPrivate: [String]
    /// Name → address pins (one address, or several separated by commas), like curl's --resolve;
    /// consulted before DNS.
    public var resolve: [String: String]
    /// Hold connections to unlisted domains and ask the user.
    public var prompt: Bool
    public var parentProxy: ParentProxy?
    /// Requests (connections) per minute, keyed by domain pattern.
    public var rateLimits: [String: Int]
    /// Blocklist files (hosts format, plain domain lists, `||domain^` lines, compiled lists).
    public var blocklists: [String]
    /// Let TLS through a tunnel when the ClientHello carries no SNI. Off: such flows are refused.
    public var allowMissingSNI: Bool
    /// Client connections open at once through the proxy, per sandbox.
    public var maxConnections: Int
    /// Seconds a client has to send a request head, SOCKS request or ClientHello.
    public var requestTimeout: Double
    /// Distinct names per minute under each allowed wildcard.
    public var dnsNamesPerMinute: Int
    /// Longest label below an allowed wildcard (twice that for all labels below it).
    public var dnsMaxLabel: Int
    /// Highest entropy, bits per character, of the labels below an allowed wildcard.
    public var dnsMaxEntropy: Double

    public init(
        domains: [String] = [], deny: [DenyRule] = [], allowPrivate: [String] = [], resolve: [String: String] = [:],
        prompt: Bool = false, parentProxy: ParentProxy? = nil, rateLimits: [String: Int] = [:], blocklists: [String] = [],
        allowMissingSNI: Bool = false, maxConnections: Int = EgressConfiguration.defaultMaxConnections,
        requestTimeout: Double = EgressConfiguration.defaultRequestTimeout,
        dnsNamesPerMinute: Int = WildcardNameBound.Limits.defaultNamesPerMinute,
        dnsMaxLabel: Int = WildcardNameBound.Limits.defaultMaxLabelLength, dnsMaxEntropy: Double = WildcardNameBound.Limits.defaultMaxEntropy
    ) {
        self.domains = domains
        self.deny = deny
        self.allowPrivate = allowPrivate
        self.resolve = resolve
        self.prompt = prompt
        self.parentProxy = parentProxy
        self.rateLimits = rateLimits
        self.blocklists = blocklists
        self.allowMissingSNI = allowMissingSNI
        self.maxConnections = maxConnections
        self.requestTimeout = requestTimeout
        self.dnsNamesPerMinute = dnsNamesPerMinute
        self.dnsMaxLabel = dnsMaxLabel
        self.dnsMaxEntropy = dnsMaxEntropy
    }

    /// The same, with the wildcard bound given as one value.
    public init(
        domains: [String] = [], deny: [DenyRule] = [], allowPrivate: [String] = [], resolve: [String: String] = [:],
        prompt: Bool = false, parentProxy: ParentProxy? = nil, rateLimits: [String: Int] = [:], blocklists: [String] = [],
        allowMissingSNI: Bool = false, dnsBound: WildcardNameBound.Limits, maxConnections: Int = EgressConfiguration.defaultMaxConnections,
        requestTimeout: Double = EgressConfiguration.defaultRequestTimeout
    ) {
        self.init(
            domains: domains, deny: deny, allowPrivate: allowPrivate, resolve: resolve, prompt: prompt, parentProxy: parentProxy,
            rateLimits: rateLimits, blocklists: blocklists, allowMissingSNI: allowMissingSNI, maxConnections: maxConnections,
            requestTimeout: requestTimeout, dnsNamesPerMinute: dnsBound.namesPerMinute, dnsMaxLabel: dnsBound.maxLabelLength,
            dnsMaxEntropy: dnsBound.maxEntropy)
    }

    /// The bounds on names under allowed wildcards.
    public var dnsBound: WildcardNameBound.Limits {
        get { WildcardNameBound.Limits(namesPerMinute: dnsNamesPerMinute, maxLabelLength: dnsMaxLabel, maxEntropy: dnsMaxEntropy) }
        set {
            dnsNamesPerMinute = newValue.namesPerMinute
            dnsMaxLabel = newValue.maxLabelLength
            dnsMaxEntropy = newValue.maxEntropy
        }
    }

    // Decoding tolerates fields added later (a record written by an older cordon lacks them).
    private enum CodingKeys: String, CodingKey {
        case domains, deny, allowPrivate, resolve, prompt, parentProxy, rateLimits, blocklists, allowMissingSNI, maxConnections
        case requestTimeout, dnsNamesPerMinute, dnsMaxLabel, dnsMaxEntropy
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = EgressConfiguration()
        self.init(
            domains: try c.decodeIfPresent([String].self, forKey: .domains) ?? d.domains,
            deny: try c.decodeIfPresent([DenyRule].self, forKey: .deny) ?? d.deny,
            allowPrivate: try c.decodeIfPresent([String].self, forKey: .allowPrivate) ?? d.allowPrivate,
            resolve: try c.decodeIfPresent([String: String].self, forKey: .resolve) ?? d.resolve,
            prompt: try c.decodeIfPresent(Bool.self, forKey: .prompt) ?? d.prompt,
            parentProxy: try c.decodeIfPresent(ParentProxy.self, forKey: .parentProxy),
            rateLimits: try c.decodeIfPresent([String: Int].self, forKey: .rateLimits) ?? d.rateLimits,
            blocklists: try c.decodeIfPresent([String].self, forKey: .blocklists) ?? d.blocklists,
            allowMissingSNI: try c.decodeIfPresent(Bool.self, forKey: .allowMissingSNI) ?? d.allowMissingSNI,
            maxConnections: try c.decodeIfPresent(Int.self, forKey: .maxConnections) ?? d.maxConnections,
            requestTimeout: try c.decodeIfPresent(Double.self, forKey: .requestTimeout) ?? d.requestTimeout,
            dnsNamesPerMinute: try c.decodeIfPresent(Int.self, forKey: .dnsNamesPerMinute) ?? d.dnsNamesPerMinute,
            dnsMaxLabel: try c.decodeIfPresent(Int.self, forKey: .dnsMaxLabel) ?? d.dnsMaxLabel,
            dnsMaxEntropy: try c.decodeIfPresent(Double.self, forKey: .dnsMaxEntropy) ?? d.dnsMaxEntropy)
    }
}

/// The field rules both the profile's validation and `EgressPolicy` apply (the pattern rules are
/// `DomainPattern`'s, the address rules `IPAddress`'s and `CIDR`'s).
extension EgressConfiguration {
    /// A `resolve` key: one exact host name (no wildcard, port or address).
    public static func pinnedName(_ text: String) -> Result<String, PolicyProblem> {
        guard !text.contains("*"), !text.hasPrefix("."), !text.contains(":"), !text.hasPrefix("[") else {
            return .failure(PolicyProblem("\"\(text)\" is not an exact host name"))
        }
        switch Host.parse(text) {
        case .success(.name(let name)): return .success(name)
        case .success(.address): return .failure(PolicyProblem("\"\(text)\" is not an exact host name: it is an address"))
        case .failure(let problem): return .failure(PolicyProblem("\"\(text)\" is not an exact host name: \(problem.message)"))
        }
    }

    /// A `resolve` value: one address, or several separated by commas.
    public static func pinnedAddresses(_ text: String) -> Result<[IPAddress], PolicyProblem> {
        var addresses: [IPAddress] = []
        for piece in text.split(separator: ",", omittingEmptySubsequences: false) {
            switch IPAddress.parse(String(piece).trimmingSpaces()) {
            case .success(let address): addresses.append(address)
            case .failure(let problem): return .failure(problem)
            }
        }
        return .success(addresses)
    }
}
