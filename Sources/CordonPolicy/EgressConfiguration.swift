public import CordonCore

/// The profile's `egress` section, exactly as the network layer takes it (`Profile.Egress` is this
/// type): nothing maps one onto the other, so every field a profile can set reaches the proxy and
/// every field the proxy reads can be set from a profile. Every pattern, network, pin and URL is
/// stored parsed (`Written`: the typed value with the text as written, which the profile renders
/// back as is). The parsing happens once, where the value enters (the profile parser, the approval
/// file, the srt importer, the throwing initialisers here), through the field parsers below; the
/// policy and the proxy read the typed values and parse no string of the configuration again.
public struct EgressConfiguration: Sendable, Equatable, Codable {
    /// An `egress.domains`, `egress.deny`, `egress.rate_limits` or `no_proxy` entry.
    public typealias Pattern = Written<DomainPattern>

    public struct DenyRule: Sendable, Equatable, Codable {
        /// A domain pattern, optionally with `:port` (`github.com:22`, `*.example.com`, `*`).
        public var domain: Pattern
        /// Shown to the agent and the user when the rule refuses a connection.
        public var reason: String?

        public init(domain: Pattern, reason: String? = nil) {
            self.domain = domain
            self.reason = reason
        }

        /// Parses `domain` with the deny grammar (a bare `*` allowed).
        public init(domain: String, reason: String? = nil) throws(CordonError) {
            self.init(domain: try EgressConfiguration.require(EgressConfiguration.deniedPattern(domain), field: "egress.deny", text: domain), reason: reason)
        }

        private enum CodingKeys: String, CodingKey { case domain, reason }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let text = try c.decode(String.self, forKey: .domain)
            self.init(
                domain: try EgressConfiguration.decoded(EgressConfiguration.deniedPattern(text), text, .domain, in: c),
                reason: try c.decodeIfPresent(String.self, forKey: .reason))
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(domain.text, forKey: .domain)
            try c.encodeIfPresent(reason, forKey: .reason)
        }
    }

    public struct ParentProxy: Sendable, Equatable, Codable {
        /// `http://host:port` or `https://host:port` (TLS to the proxy itself); allowed traffic is
        /// tunnelled through it with CONNECT.
        public var url: Written<ParentProxyAddress>
        /// Domain patterns reached directly rather than through the parent.
        public var noProxy: [Pattern]
        /// Host path of PEM CA certificates an `https://` parent's certificate must chain to (the
        /// system's trust store when nil). Read where the dialer is built, not here.
        public var caFile: String?

        public init(url: Written<ParentProxyAddress>, noProxy: [Pattern] = [], caFile: String? = nil) {
            self.url = url
            self.noProxy = noProxy
            self.caFile = caFile
        }

        /// Parses `url` and `noProxy` with their grammars.
        public init(url: String, noProxy: [String] = [], caFile: String? = nil) throws(CordonError) {
            guard case .success(let address) = EgressConfiguration.proxyURL(url) else {
                throw CordonError(.invalidProfile, "egress.parent_proxy.url: \"\(url)\" is not a proxy URL (\(EgressConfiguration.expectedProxyURL))")
            }
            var direct: [Pattern] = []
            for (index, text) in noProxy.enumerated() {
                direct.append(
                    try EgressConfiguration.require(EgressConfiguration.directPattern(text), field: "egress.parent_proxy.no_proxy[\(index)]", text: text))
            }
            self.init(url: address, noProxy: direct, caFile: caFile)
        }

        private enum CodingKeys: String, CodingKey { case url, noProxy, caFile }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let url = try c.decode(String.self, forKey: .url)
            var direct: [Pattern] = []
            for text in try c.decodeIfPresent([String].self, forKey: .noProxy) ?? [] {
                direct.append(try EgressConfiguration.decoded(EgressConfiguration.directPattern(text), text, .noProxy, in: c))
            }
            self.init(
                url: try EgressConfiguration.decoded(EgressConfiguration.proxyURL(url), url, .url, in: c), noProxy: direct,
                caFile: try c.decodeIfPresent(String.self, forKey: .caFile))
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(url.text, forKey: .url)
            try c.encode(noProxy.map(\.text), forKey: .noProxy)
            try c.encodeIfPresent(caFile, forKey: .caFile)
        }
    }

    public static let defaultMaxConnections = 512
    public static let defaultRequestTimeout = 10.0

    /// Allowed domain patterns: `example.com`, `*.example.com`, `.example.com`, each optionally `:port`.
    public var domains: [Pattern]
    public var deny: [DenyRule]
    /// CIDRs that may be dialled although private (`127.0.0.0/8`, `fd00::/8`).
    public var allowPrivate: [Written<CIDR>]
    /// Name → address pins (one address, or several separated by commas), like curl's --resolve;
    /// consulted before DNS. The key's value is the normalised name.
    public var resolve: [Written<String>: Written<[IPAddress]>]
    /// Hold connections to unlisted domains and ask the user.
    public var prompt: Bool
    public var parentProxy: ParentProxy?
    /// Requests (connections) per minute, keyed by domain pattern.
    public var rateLimits: [Pattern: Int]
    /// Blocklist files (hosts format, plain domain lists, `||domain^` lines, compiled lists).
    public var blocklists: [String]
    /// CA bundles (PEM files) trusted, beside the host's store, when the proxy verifies upstream
    /// servers of intercepted connections (a corporate CA; a test's own CA).
    public var upstreamCA: [String] = []
    /// Domains whose TLS the proxy terminates without a secret, so that every request's Host is
    /// checked against the connection's (fronting inside TLS refused, not only at the SNI).
    public var inspect: [Pattern] = []
    /// Let TLS through a tunnel when the ClientHello carries no SNI. Off: such flows are refused.
    public var allowMissingSNI: Bool
    /// `egress.dlp` and whether a profile layer wrote it (see `LeakCheckSetting`).
    public var dlpSetting = LeakCheckSetting()
    /// The outbound leak check over intercepted request bodies: off, alert (the default) or block.
    public var dlp: LeakCheckMode {
        get { dlpSetting.mode }
        set { dlpSetting = LeakCheckSetting(mode: newValue, written: true) }
    }
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

    /// The defaults: nothing listed.
    public init() {
        domains = []
        deny = []
        allowPrivate = []
        resolve = [:]
        prompt = false
        parentProxy = nil
        rateLimits = [:]
        blocklists = []
        allowMissingSNI = false
        maxConnections = EgressConfiguration.defaultMaxConnections
        requestTimeout = EgressConfiguration.defaultRequestTimeout
        let bound = WildcardNameBound.Limits()
        dnsNamesPerMinute = bound.namesPerMinute
        dnsMaxLabel = bound.maxLabelLength
        dnsMaxEntropy = bound.maxEntropy
    }

    /// From text, each field parsed with its grammar; a value the grammar refuses throws a profile
    /// error naming the field (`egress.domains[1]: "*.github" is not a valid pattern: …`).
    public init(
        domains: [String] = [], deny: [DenyRule] = [], allowPrivate: [String] = [], resolve: [String: String] = [:],
        prompt: Bool = false, parentProxy: ParentProxy? = nil, rateLimits: [String: Int] = [:], blocklists: [String] = [],
        allowMissingSNI: Bool = false, maxConnections: Int = EgressConfiguration.defaultMaxConnections,
        requestTimeout: Double = EgressConfiguration.defaultRequestTimeout,
        dnsNamesPerMinute: Int = WildcardNameBound.Limits.defaultNamesPerMinute,
        dnsMaxLabel: Int = WildcardNameBound.Limits.defaultMaxLabelLength, dnsMaxEntropy: Double = WildcardNameBound.Limits.defaultMaxEntropy
    ) throws(CordonError) {
        self.init()
        for (index, text) in domains.enumerated() {
            self.domains.append(try Self.require(Self.allowedPattern(text), field: "egress.domains[\(index)]", text: text))
        }
        self.deny = deny
        for (index, text) in allowPrivate.enumerated() {
            switch Self.privateNetwork(text) {
            case .success(let cidr): self.allowPrivate.append(cidr)
            case .failure(let problem):
                throw CordonError(
                    .invalidProfile,
                    "egress.allow_private[\(index)]: \"\(text)\" is not a valid CIDR: \(problem.message) (expected \"10.0.0.0/8\" or \"fd00::/8\")")
            }
        }
        for (name, value) in resolve.sorted(by: { $0.key < $1.key }) {
            let key: Written<String>
            switch Self.pinnedName(name) {
            case .success(let parsed): key = parsed
            case .failure(let problem): throw CordonError(.invalidProfile, "egress.resolve: \(problem.message)")
            }
            switch Self.pinnedAddresses(value) {
            case .success(let addresses): self.resolve[key] = addresses
            case .failure(let problem): throw CordonError(.invalidProfile, "egress.resolve.\(name): \(problem.message)")
            }
        }
        self.prompt = prompt
        self.parentProxy = parentProxy
        for (text, perMinute) in rateLimits.sorted(by: { $0.key < $1.key }) {
            self.rateLimits[try Self.require(Self.allowedPattern(text), field: "egress.rate_limits.\(text)", text: text)] = perMinute
        }
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
    ) throws(CordonError) {
        try self.init(
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

    // The JSON shape is the profile's: every pattern, network, pin and URL a string as written.
    // Decoding parses each with its field's grammar (a value it refuses fails the decoding) and
    // tolerates fields added later (a record written by an older cordon lacks them).
    private enum CodingKeys: String, CodingKey {
        case domains, deny, allowPrivate, resolve, prompt, parentProxy, rateLimits, blocklists, allowMissingSNI, maxConnections
        case requestTimeout, dnsNamesPerMinute, dnsMaxLabel, dnsMaxEntropy, upstreamCA, inspect, dlp
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        for text in try c.decodeIfPresent([String].self, forKey: .domains) ?? [] {
            domains.append(try Self.decoded(Self.allowedPattern(text), text, .domains, in: c))
        }
        deny = try c.decodeIfPresent([DenyRule].self, forKey: .deny) ?? deny
        for text in try c.decodeIfPresent([String].self, forKey: .allowPrivate) ?? [] {
            allowPrivate.append(try Self.decoded(Self.privateNetwork(text), text, .allowPrivate, in: c))
        }
        for (name, value) in try c.decodeIfPresent([String: String].self, forKey: .resolve) ?? [:] {
            resolve[try Self.decoded(Self.pinnedName(name), name, .resolve, in: c)] = try Self.decoded(Self.pinnedAddresses(value), value, .resolve, in: c)
        }
        prompt = try c.decodeIfPresent(Bool.self, forKey: .prompt) ?? prompt
        parentProxy = try c.decodeIfPresent(ParentProxy.self, forKey: .parentProxy)
        for (text, perMinute) in try c.decodeIfPresent([String: Int].self, forKey: .rateLimits) ?? [:] {
            rateLimits[try Self.decoded(Self.allowedPattern(text), text, .rateLimits, in: c)] = perMinute
        }
        blocklists = try c.decodeIfPresent([String].self, forKey: .blocklists) ?? blocklists
        upstreamCA = try c.decodeIfPresent([String].self, forKey: .upstreamCA) ?? upstreamCA
        for text in try c.decodeIfPresent([String].self, forKey: .inspect) ?? [] {
            inspect.append(try Self.decoded(Self.allowedPattern(text), text, .inspect, in: c))
        }
        allowMissingSNI = try c.decodeIfPresent(Bool.self, forKey: .allowMissingSNI) ?? allowMissingSNI
        dlpSetting = try c.decodeIfPresent(LeakCheckSetting.self, forKey: .dlp) ?? dlpSetting
        maxConnections = try c.decodeIfPresent(Int.self, forKey: .maxConnections) ?? maxConnections
        requestTimeout = try c.decodeIfPresent(Double.self, forKey: .requestTimeout) ?? requestTimeout
        dnsNamesPerMinute = try c.decodeIfPresent(Int.self, forKey: .dnsNamesPerMinute) ?? dnsNamesPerMinute
        dnsMaxLabel = try c.decodeIfPresent(Int.self, forKey: .dnsMaxLabel) ?? dnsMaxLabel
        dnsMaxEntropy = try c.decodeIfPresent(Double.self, forKey: .dnsMaxEntropy) ?? dnsMaxEntropy
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(domains.map(\.text), forKey: .domains)
        try c.encode(deny, forKey: .deny)
        try c.encode(allowPrivate.map(\.text), forKey: .allowPrivate)
        try c.encode(Dictionary(uniqueKeysWithValues: resolve.map { ($0.key.text, $0.value.text) }), forKey: .resolve)
        try c.encode(prompt, forKey: .prompt)
        try c.encodeIfPresent(parentProxy, forKey: .parentProxy)
        try c.encode(Dictionary(uniqueKeysWithValues: rateLimits.map { ($0.key.text, $0.value) }), forKey: .rateLimits)
        try c.encode(blocklists, forKey: .blocklists)
        try c.encode(upstreamCA, forKey: .upstreamCA)
        try c.encode(inspect.map(\.text), forKey: .inspect)
        try c.encode(allowMissingSNI, forKey: .allowMissingSNI)
        try c.encode(dlpSetting, forKey: .dlp)
        try c.encode(maxConnections, forKey: .maxConnections)
        try c.encode(requestTimeout, forKey: .requestTimeout)
        try c.encode(dnsNamesPerMinute, forKey: .dnsNamesPerMinute)
        try c.encode(dnsMaxLabel, forKey: .dnsMaxLabel)
        try c.encode(dnsMaxEntropy, forKey: .dnsMaxEntropy)
    }
}

/// The grammar of each field, the one both the profile's parser and every other way into the
/// configuration use (the pattern rules are `DomainPattern`'s, the address rules `IPAddress`'s and
/// `CIDR`'s). Each returns the typed value with its text, or what is wrong with the text.
extension EgressConfiguration {
    /// An `egress.domains` or `egress.rate_limits` entry (and an approved pattern).
    public static func allowedPattern(_ text: String) -> Result<Pattern, PolicyProblem> {
        DomainPattern.parse(text).map { Written(text, $0) }
    }

    /// An `egress.deny` entry: a bare `*` (every host) is allowed.
    public static func deniedPattern(_ text: String) -> Result<Pattern, PolicyProblem> {
        DomainPattern.parse(text, allowAny: true).map { Written(text, $0) }
    }

    /// A `parent_proxy.no_proxy` entry: it only chooses a route, so `.corp` may cover a whole suffix.
    public static func directPattern(_ text: String) -> Result<Pattern, PolicyProblem> {
        DomainPattern.parse(text, broadWildcards: true).map { Written(text, $0) }
    }

    /// An `egress.allow_private` entry.
    public static func privateNetwork(_ text: String) -> Result<Written<CIDR>, PolicyProblem> {
        CIDR.parse(text).map { Written(text, $0) }
    }

    /// A `resolve` key: one exact host name (no wildcard, port or address); the value is the
    /// normalised name.
    public static func pinnedName(_ text: String) -> Result<Written<String>, PolicyProblem> {
        guard !text.contains("*"), !text.hasPrefix("."), !text.contains(":"), !text.hasPrefix("[") else {
            return .failure(PolicyProblem("\"\(text)\" is not an exact host name"))
        }
        switch Host.parse(text) {
        case .success(.name(let name)): return .success(Written(text, name))
        case .success(.address): return .failure(PolicyProblem("\"\(text)\" is not an exact host name: it is an address"))
        case .failure(let problem): return .failure(PolicyProblem("\"\(text)\" is not an exact host name: \(problem.message)"))
        }
    }

    /// A `resolve` value: one address, or several separated by commas.
    public static func pinnedAddresses(_ text: String) -> Result<Written<[IPAddress]>, PolicyProblem> {
        var addresses: [IPAddress] = []
        for piece in text.split(separator: ",", omittingEmptySubsequences: false) {
            switch IPAddress.parse(String(piece).trimmingSpaces()) {
            case .success(let address): addresses.append(address)
            case .failure(let problem): return .failure(problem)
            }
        }
        return .success(Written(text, addresses))
    }

    /// What a valid `parent_proxy.url` looks like.
    public static let expectedProxyURL = "expected \"http://host:port\" or \"https://host:port\""

    /// A `parent_proxy.url`: `http://host[:port]` or `https://host[:port]`.
    public static func proxyURL(_ text: String) -> Result<Written<ParentProxyAddress>, PolicyProblem> {
        guard let address = ParentProxyAddress(text) else { return .failure(PolicyProblem("is not a proxy URL (\(expectedProxyURL))")) }
        return .success(Written(text, address))
    }

    /// The parsed value, or a profile error naming `field` (the pattern fields' message).
    static func require(_ result: Result<Pattern, PolicyProblem>, field: String, text: String) throws(CordonError) -> Pattern {
        switch result {
        case .success(let pattern): return pattern
        case .failure(let problem):
            throw CordonError(.invalidProfile, "\(field): \"\(text)\" is not a valid pattern: \(problem.message) (\(DomainPattern.expected))")
        }
    }

    /// The parsed value, or a decoding error at `key` saying what is wrong with `text`.
    static func decoded<Value, Key: CodingKey>(
        _ result: Result<Written<Value>, PolicyProblem>, _ text: String, _ key: Key, in container: KeyedDecodingContainer<Key>
    ) throws -> Written<Value> {
        switch result {
        case .success(let value): return value
        case .failure(let problem):
            throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "\"\(text)\": \(problem.message)")
        }
    }
}
