public import CordonCore

/// One entry of `egress.domains`, `egress.deny`, `egress.rate_limits` or `parent_proxy.no_proxy`:
/// `example.com` (exact), `*.example.com` (subdomains, not the apex), `.example.com` (apex and
/// subdomains), an address literal (IPv6 in brackets), each optionally with `:port`; on the deny
/// side a bare `*` (every host). The host part is a `Host`, so names take IDNA and one trailing
/// dot. The profile's validation and the proxy both parse here: one grammar, one verdict.
public struct DomainPattern: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case exact
        case subdomains
        case apexAndSubdomains
        /// `*` on the deny side: every host.
        case any
    }

    public let kind: Kind
    public let host: Host
    /// Nil means "no port given": the allow side then permits 80 and 443, the deny side any port.
    public let port: Int?

    /// What a valid pattern looks like (the hint beside every pattern error).
    public static let expected = "expected \"example.com\", \"*.example.com\" or \".example.com\", optionally with \":port\""

    /// `allowAny` admits a bare `*` (deny lists: every host, optionally on one port);
    /// `broadWildcards` admits a wildcard over one label (`.corp`: `no_proxy` only routes, it grants nothing).
    public init(_ text: String, allowAny: Bool = false, broadWildcards: Bool = false) throws(CordonError) {
        switch DomainPattern.parse(text, allowAny: allowAny, broadWildcards: broadWildcards) {
        case .success(let pattern): self = pattern
        case .failure(let problem):
            throw CordonError(.invalidProfile, "\"\(text)\" is not a valid pattern: \(problem.message) (\(DomainPattern.expected))")
        }
    }

    private init(kind: Kind, host: Host, port: Int?) {
        self.kind = kind
        self.host = host
        self.port = port
    }

    /// Nil when `text` is a valid pattern, else what is wrong with it.
    public static func problem(_ text: String, allowAny: Bool = false, broadWildcards: Bool = false) -> String? {
        if case .failure(let problem) = parse(text, allowAny: allowAny, broadWildcards: broadWildcards) { return problem.message }
        return nil
    }

    /// The pattern, or what is wrong with `text` (a phrase: "has an empty label").
    public static func parse(_ text: String, allowAny: Bool = false, broadWildcards: Bool = false) -> Result<DomainPattern, PolicyProblem> {
        func bad(_ why: String) -> Result<DomainPattern, PolicyProblem> { .failure(PolicyProblem(why)) }
        if text.isEmpty { return bad("is empty") }
        if text.contains("://") || text.contains("/") {
            return bad("looks like a URL; write the host only (\"github.com\", not \"https://github.com/\")")
        }
        if text.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F }) {
            return bad("contains whitespace or a control character")
        }
        var body = Substring(text)
        var port: Int?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return bad("has an unclosed \"[\"") }
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { return bad("has text after \"]\" that is not \":port\"") }
                guard let value = decimalPort(rest.dropFirst().utf8) else { return portProblem(rest.dropFirst()) }
                port = value
            }
            body = text[...close]
        } else {
            let colons = text.filter { $0 == ":" }.count
            if colons > 1 { return bad("has more than one \":\"; write IPv6 addresses in brackets (\"[::1]:443\")") }
            if colons == 1, let colon = text.firstIndex(of: ":") {
                let digits = text[text.index(after: colon)...]
                guard let value = decimalPort(digits.utf8) else { return portProblem(digits) }
                port = value
                body = text[..<colon]
                if body.isEmpty { return bad("has no host before \":\"") }
            }
        }
        if body == "*" {
            guard allowAny else { return bad("\"*\" would allow every host") }
            return .success(DomainPattern(kind: .any, host: .name("*"), port: port))
        }
        var kind = Kind.exact
        if body.hasPrefix("*.") {
            kind = .subdomains
            body = body.dropFirst(2)
        } else if body.hasPrefix(".") {
            kind = .apexAndSubdomains
            body = body.dropFirst()
        }
        if body.contains("*") { return bad("may use \"*\" only as a leading \"*.\" label") }
        let host: Host
        switch Host.parse(String(body)) {
        case .success(let parsed): host = parsed
        case .failure(let problem): return .failure(problem)
        }
        if kind != .exact {
            guard let name = host.name else { return bad("puts a wildcard on an IP address") }
            // A wildcard needs a registrable base: "*.com" or "*.github" would cover far too much.
            guard broadWildcards || name.split(separator: ".").count >= 2 else {
                return bad("needs a dot after the wildcard part (\"*.example.com\"); a whole top-level domain is too broad")
            }
        }
        return .success(DomainPattern(kind: kind, host: host, port: port))
    }

    /// Nil when the allow grammar (`egress.domains`, `rate_limits`) admits this pattern, else why
    /// not: a typed check (no text is parsed) for a pattern another field's grammar admitted, a
    /// bare `*` (deny) or a wildcard over one label (`no_proxy`).
    public var allowGrammarProblem: String? {
        switch kind {
        case .any: return "\"*\" would allow every host"
        case .exact: return nil
        case .subdomains, .apexAndSubdomains:
            guard let name = host.name, name.split(separator: ".").count >= 2 else {
                return "needs a dot after the wildcard part (\"*.example.com\"); a whole top-level domain is too broad"
            }
            return nil
        }
    }

    private static func portProblem(_ port: Substring) -> Result<DomainPattern, PolicyProblem> {
        .failure(PolicyProblem("has port \"\(port)\"; a port is a number from 1 to 65535"))
    }

    public func matchesName(_ candidate: Host) -> Bool {
        switch (host, candidate) {
        case (_, _) where kind == .any:
            return true
        case (.address(let mine), .address(let other)):
            return kind == .exact && mine == other
        case (.name(let mine), .name(let other)):
            switch kind {
            case .exact: return other == mine
            case .subdomains: return other.hasSuffix("." + mine)
            case .apexAndSubdomains: return other == mine || other.hasSuffix("." + mine)
            case .any: return true
            }
        default:
            return false
        }
    }

    /// Name matches and, when the pattern has a port, the port is that port.
    public func matches(_ candidate: Host, port candidatePort: Int) -> Bool {
        matchesName(candidate) && (port == nil || port == candidatePort)
    }

    /// The canonical form: lower-case A-labels, no trailing dot, IPv6 in brackets when a port follows.
    public var description: String {
        let prefix: String
        switch kind {
        case .subdomains: prefix = "*."
        case .apexAndSubdomains: prefix = "."
        case .exact, .any: prefix = ""
        }
        let hostText: String
        switch host {
        case .name(let name): hostText = name
        case .address(let address): hostText = port == nil ? address.description : address.hostLiteral
        }
        return prefix + hostText + (port.map { ":\($0)" } ?? "")
    }
}

extension String {
    /// Without leading and trailing whitespace.
    package func trimmingSpaces() -> String {
        // Header values usually carry no surrounding space: no scalar walk for those.
        if let first = utf8.first, let last = utf8.last, (0x21..<0x80).contains(first), (0x21..<0x80).contains(last) { return self }
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let end = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[start...end])
    }
}
