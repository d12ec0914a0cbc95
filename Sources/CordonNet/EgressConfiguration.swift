/// Egress settings as CordonNet sees them; the caller maps the profile's `egress` section onto it.
public struct EgressConfiguration: Sendable, Equatable, Codable {
    public struct DenyRule: Sendable, Equatable, Codable {
        /// A domain pattern, optionally with `:port` (`github.com:22`, `*.example.com`).
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
        /// PEM CA certificates an `https://` parent's certificate must chain to (the system's
        /// trust store when nil).
        public var caFile: String?

        public init(url: String, noProxy: [String] = [], caFile: String? = nil) {
            self.url = url
            self.noProxy = noProxy
            self.caFile = caFile
        }
    }

    /// Allowed domain patterns: `example.com`, `*.example.com`, `.example.com`, each optionally `:port`.
    public var domains: [String]
    public var deny: [DenyRule]
    /// CIDRs that may be dialled although private (`127.0.0.0/8`, `fd00::/8`).
    public var allowPrivate: [String]
    /// Name → address pins, like curl's --resolve; consulted before DNS.
    public var resolve: [String: String]
    /// Hold connections to unlisted domains and ask an `ApprovalProvider`.
    public var prompt: Bool
    public var parentProxy: ParentProxy?
    /// Requests (connections) per minute, keyed by domain pattern.
    public var rateLimits: [String: Int]
    /// Blocklist files (hosts format, plain domain lists, `||domain^` lines).
    public var blocklists: [String]
    /// Let TLS through a tunnel when the ClientHello carries no SNI. Off: such flows are refused.
    public var allowMissingSNI: Bool
    /// Bounds on names resolved under allowed wildcards (nil: the defaults).
    public var dnsBound: WildcardNameBound.Limits?
    /// Client connections open at once per sandbox (nil: `EgressProxy.Options.defaultMaxConnections`).
    public var maxConnections: Int?
    /// Seconds a client has to send a request head, SOCKS request or ClientHello (nil: 10).
    public var requestTimeout: Double?

    public init(
        domains: [String] = [], deny: [DenyRule] = [], allowPrivate: [String] = [], resolve: [String: String] = [:],
        prompt: Bool = false, parentProxy: ParentProxy? = nil, rateLimits: [String: Int] = [:],
        blocklists: [String] = [], allowMissingSNI: Bool = false, dnsBound: WildcardNameBound.Limits? = nil,
        maxConnections: Int? = nil, requestTimeout: Double? = nil
    ) {
        self.maxConnections = maxConnections
        self.requestTimeout = requestTimeout
        self.dnsBound = dnsBound
        self.domains = domains
        self.deny = deny
        self.allowPrivate = allowPrivate
        self.resolve = resolve
        self.prompt = prompt
        self.parentProxy = parentProxy
        self.rateLimits = rateLimits
        self.blocklists = blocklists
        self.allowMissingSNI = allowMissingSNI
    }
}
