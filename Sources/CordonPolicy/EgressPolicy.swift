public import CordonCore

/// The outcome of `EgressPolicy.decide`: what to do, and which rule said so and why.
public struct Decision: Sendable, Equatable, CustomStringConvertible {
    public enum Verdict: String, Sendable {
        case allow
        case deny
        /// Unlisted while `prompt` is on: hold the connection and ask.
        case ask
    }

    public var verdict: Verdict
    /// The normalised host (A-label name or canonical address), or the raw text when invalid.
    public var host: String
    public var port: Int
    /// The deciding rule: `blocklist`, `deny:<pattern>`, `allow:<pattern>`, `ip-literal`, `port`,
    /// `not-listed`, `invalid-host`, `prompt`, `approval:once`, `rate-limit:<pattern>`, …
    public var rule: String
    public var reason: String

    public init(verdict: Verdict, host: String, port: Int, rule: String, reason: String) {
        self.verdict = verdict
        self.host = host
        self.port = port
        self.rule = rule
        self.reason = reason
    }

    public var isAllowed: Bool { verdict == .allow }

    public var description: String { "\(verdict.rawValue) \(host):\(port) by \(rule): \(reason)" }

    /// The one-line text a refused client sees (403 body, logs): domain, rule, and how to allow it.
    public func refusalLine(sandbox: String) -> String {
        "cordon refused \(host):\(port): \(reason) (rule \(rule)); to allow: \(allowCommand(sandbox: sandbox))"
    }

    /// The `X-Cordon-Denied` header value.
    public func deniedHeader(sandbox: String) -> String {
        "domain=\(host); port=\(port); rule=\(rule); allow=\"\(allowCommand(sandbox: sandbox))\""
    }

    public func allowCommand(sandbox: String) -> String { "cordon allow \(sandbox) \(host)" }
}

/// Compiled egress policy. `decide` is pure: the proxy and the DNS stub only apply it.
public struct EgressPolicy: Sendable {
    public struct DenyRule: Sendable {
        public var pattern: DomainPattern
        public var reason: String?
    }

    public let allow: [DomainPattern]
    public let deny: [DenyRule]
    public let addressPolicy: AddressPolicy
    /// Normalised name → pinned addresses (the `resolve` setting).
    public let pins: [String: [IPAddress]]
    public let prompt: Bool
    public let allowMissingSNI: Bool
    public let rateLimits: [(pattern: DomainPattern, perMinute: Int)]
    public let blocklist: Blocklist?
    public let parentProxy: EgressConfiguration.ParentProxy?
    /// `parentProxy.noProxy`'s patterns.
    public let noProxy: [DomainPattern]
    /// The bound on names under allowed wildcards; shared state (the DNS stub and the proxy count
    /// into the same minute), so copies of the policy share it.
    public let wildcardBound: WildcardNameBound
    /// The placeholders this sandbox's variables hold for its secrets (lower-cased): a name that
    /// carries one is refused whatever the lists say (rule `placeholder`). A placeholder leaves
    /// the sandbox only in requests to its secret's bound domains, never inside a host name.
    public let placeholders: [String]
    /// Ports an entry without `:port` allows.
    public static let defaultPorts: Set<Int> = [80, 443]

    /// Compiles `configuration`, whose patterns, networks, pins and URL are parsed already (no
    /// string of it is read again here); a value outside its field's bounds throws a profile error
    /// naming the field. Pure: no file is read here (the parent proxy's CA file is read where the
    /// dialer is built).
    public init(_ configuration: EgressConfiguration, blocklist: Blocklist? = nil, placeholders: [String] = []) throws(CordonError) {
        self.placeholders = placeholders.map { $0.lowercased() }.filter { !$0.isEmpty }
        // A pattern of the deny grammar (`*`) or of `no_proxy`'s (`.corp`) put in an allow list by
        // code would allow far too much: the typed value says which grammar admits it.
        for (index, pattern) in configuration.domains.enumerated() {
            try EgressPolicy.requireAllowGrammar(pattern, field: "egress.domains[\(index)]")
        }
        for pattern in configuration.rateLimits.keys {
            try EgressPolicy.requireAllowGrammar(pattern, field: "egress.rate_limits.\(pattern.text)")
        }
        // Most profiles pin no name and limit no rate: the sorts are skipped then (each would
        // instantiate generic metadata, with conformance scans, on every sandbox's start).
        var pins: [String: [IPAddress]] = [:]
        for (name, addresses) in configuration.resolve.isEmpty ? [] : configuration.resolve.sorted(by: { $0.key.text < $1.key.text }) {
            pins[name.value] = addresses.value
        }
        var limits: [(DomainPattern, Int)] = []
        for (pattern, perMinute) in configuration.rateLimits.isEmpty ? [] : configuration.rateLimits.sorted(by: { $0.key.text < $1.key.text }) {
            guard perMinute > 0 else {
                throw CordonError(.invalidProfile, "egress.rate_limits.\(pattern.text): \(perMinute) must be a positive number of requests per minute")
            }
            limits.append((pattern.value, perMinute))
        }
        if let parent = configuration.parentProxy, !parent.url.value.tls, parent.caFile != nil {
            throw CordonError(
                .invalidProfile, "egress.parent_proxy.ca_file: only an https:// parent proxy is checked against a CA (the url is \(parent.url.text))")
        }
        guard configuration.maxConnections > 0, configuration.requestTimeout > 0 else {
            throw CordonError(
                .invalidProfile,
                "egress.max_connections and egress.request_timeout must be positive (got \(configuration.maxConnections), \(configuration.requestTimeout))")
        }
        self.allow = configuration.domains.map(\.value)
        self.deny = configuration.deny.map { DenyRule(pattern: $0.domain.value, reason: $0.reason) }
        self.addressPolicy = AddressPolicy(allowPrivate: configuration.allowPrivate.map(\.value))
        self.pins = pins
        self.prompt = configuration.prompt
        self.allowMissingSNI = configuration.allowMissingSNI
        self.rateLimits = limits
        self.blocklist = blocklist
        self.parentProxy = configuration.parentProxy
        self.noProxy = configuration.parentProxy?.noProxy.map(\.value) ?? []
        let bound = configuration.dnsBound
        guard bound.namesPerMinute > 0, bound.maxLabelLength > 0, bound.maxEntropy > 0 else {
            throw CordonError(
                .invalidProfile,
                "egress.dns_names_per_minute, egress.dns_max_label and egress.dns_max_entropy must be positive (got \(bound.namesPerMinute), \(bound.maxLabelLength), \(bound.maxEntropy))"
            )
        }
        self.wildcardBound = WildcardNameBound(bound)
    }

    private static func requireAllowGrammar(_ pattern: EgressConfiguration.Pattern, field: String) throws(CordonError) {
        guard let problem = pattern.value.allowGrammarProblem else { return }
        throw CordonError(.invalidProfile, "\(field): \"\(pattern.text)\" is not a valid pattern: \(problem) (\(DomainPattern.expected))")
    }

    /// `decision` with the wildcard bound applied: an allowed name under a wildcard pattern that
    /// breaks the bound (see `WildcardNameBound`) is refused with rule `dns-bound:<pattern>`.
    public func bounded(_ decision: Decision) -> Decision {
        guard decision.isAllowed, decision.rule.hasPrefix("allow:"), let host = Host(decision.host), let name = host.name,
            let pattern = allow.first(where: { "allow:\($0)" == decision.rule })
        else { return decision }
        guard let problem = wildcardBound.check(name: name, pattern: pattern) else { return decision }
        return Decision(verdict: .deny, host: decision.host, port: decision.port, rule: "dns-bound:\(pattern)", reason: problem)
    }

    /// Whether `text` (a name, a request target, a header value) holds one of the sandbox's
    /// placeholders, in any letter case.
    public func carriesPlaceholder(_ text: String) -> Bool {
        guard !placeholders.isEmpty, PlaceholderFormat.mentionsPrefix(text) else { return false }
        let lowered = text.lowercased()
        return placeholders.contains { lowered.contains($0) }
    }

    /// Blocklist → deny → allow, first match wins within each stage.
    public func decide(host rawHost: String, port: Int) -> Decision {
        evaluate(rawHost, port: port)
    }

    /// The DNS view: may this name be resolved at all (for any port)? Deny rules with a port do not
    /// hide the name, since other ports may still be allowed.
    public func decideName(_ rawHost: String) -> Decision {
        evaluate(rawHost, port: nil)
    }

    private func evaluate(_ rawHost: String, port: Int?) -> Decision {
        let shownPort = port ?? 0
        if carriesPlaceholder(rawHost) {
            return Decision(
                verdict: .deny, host: rawHost, port: shownPort, rule: "placeholder",
                reason: "the name carries a secret's placeholder: an attempt to send it out (it goes only to its secret's bound domains, in requests)")
        }
        let host: Host
        switch Host.parse(rawHost) {
        case .success(let parsed): host = parsed
        case .failure(let problem) where problem.isAddressSpelling:
            // An IPv4 address in a spelling cordon refuses everywhere (octal, hex, integer).
            return Decision(verdict: .deny, host: rawHost, port: shownPort, rule: "ip-literal", reason: problem.message)
        case .failure(let problem):
            return Decision(
                verdict: .deny, host: rawHost, port: shownPort, rule: "invalid-host", reason: "not a valid host name or address: \(problem.message)")
        }
        let hostText = host.description
        func decision(_ verdict: Decision.Verdict, _ rule: String, _ reason: String) -> Decision {
            Decision(verdict: verdict, host: hostText, port: shownPort, rule: rule, reason: reason)
        }
        if let port, !(1...65535).contains(port) {
            return decision(.deny, "invalid-port", "port \(port) is out of range")
        }
        if let name = host.name, let listed = blocklist?.match(name) {
            return decision(.deny, "blocklist", "\(listed) is on the blocklist")
        }
        for rule in deny {
            let hit = port.map { rule.pattern.matches(host, port: $0) } ?? (rule.pattern.port == nil && rule.pattern.matchesName(host))
            if hit {
                return decision(.deny, "deny:\(rule.pattern)", rule.reason ?? "denied by egress.deny \(rule.pattern)")
            }
        }
        let named = allow.filter { $0.matchesName(host) }
        if let port {
            if let exact = named.first(where: { $0.port == port }) {
                return decision(.allow, "allow:\(exact)", "listed in egress.domains")
            }
            if EgressPolicy.defaultPorts.contains(port), let plain = named.first(where: { $0.port == nil }) {
                return decision(.allow, "allow:\(plain)", "listed in egress.domains")
            }
            if !named.isEmpty {
                return decision(
                    .deny, "port", "port \(port) is not allowed for \(hostText) (only 80 and 443 unless egress.domains lists \(hostText):\(port))")
            }
        } else if let first = named.first {
            return decision(.allow, "allow:\(first)", "listed in egress.domains")
        }
        if case .address = host {
            return decision(.deny, "ip-literal", "IP-literal targets are refused unless listed in egress.domains")
        }
        if prompt {
            return decision(.ask, "prompt", "not in egress.domains; asking")
        }
        return decision(.deny, "not-listed", "\(hostText) is not in egress.domains")
    }

    /// The per-minute limit that applies to `host`, with the pattern that set it.
    public func rateLimit(for host: Host) -> (pattern: DomainPattern, perMinute: Int)? {
        rateLimits.first { $0.pattern.matchesName(host) }
    }

    /// Whether `host` should go through the parent proxy.
    public func usesParentProxy(for host: Host) -> Bool {
        guard parentProxy != nil else { return false }
        return !noProxy.contains { $0.matchesName(host) }
    }
}

/// `http://host:port` or `https://host:port` of a parent proxy (ports 80 and 443 when absent).
public struct ParentProxyAddress: Sendable, Hashable {
    public var host: String
    public var port: Int
    /// `https://`: the connection to the proxy itself is TLS.
    public var tls: Bool

    public init?(_ url: String) {
        var rest = Substring(url)
        if rest.hasPrefix("http://") {
            rest = rest.dropFirst(7)
            tls = false
        } else if rest.hasPrefix("https://") {
            rest = rest.dropFirst(8)
            tls = true
        } else {
            return nil
        }
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        if let parsed = parseAuthority(String(rest)) {
            host = parsed.host
            port = parsed.port
        } else if !rest.isEmpty, !rest.contains(":") {
            host = String(rest)
            port = tls ? 443 : 80
        } else {
            return nil
        }
    }
}
