public import CordonCore

/// One entry of `egress.domains` or `egress.deny`: `example.com` (exact), `*.example.com`
/// (subdomains, not the apex), `.example.com` (apex and subdomains), an address literal, each
/// optionally with `:port`. Compared on normalised A-labels.
public struct DomainPattern: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case exact
        case subdomains
        case apexAndSubdomains
    }

    public let kind: Kind
    public let host: Host
    /// Nil means "no port given": the allow side then permits 80 and 443, the deny side any port.
    public let port: Int?

    public init(_ text: String) throws(CordonError) {
        let invalid = CordonError(
            .invalidProfile,
            "\"\(text)\" is not a valid pattern (expected \"*.example.com\", \".example.com\" or \"example.com\", optionally with \":port\")"
        )
        var body = Substring(text.trimmingSpaces())
        var port: Int?
        if body.hasPrefix("[") {
            guard let close = body.firstIndex(of: "]") else { throw invalid }
            let rest = body[body.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let value = Int(rest.dropFirst()), (1...65535).contains(value) else {
                    throw invalid
                }
                port = value
            }
            body = body[...close]
        } else if body.filter({ $0 == ":" }).count == 1, let colon = body.lastIndex(of: ":") {
            guard let value = Int(body[body.index(after: colon)...]), (1...65535).contains(value) else { throw invalid }
            port = value
            body = body[..<colon]
        }
        var kind = Kind.exact
        if body.hasPrefix("*.") {
            kind = .subdomains
            body = body.dropFirst(2)
        } else if body.hasPrefix(".") {
            kind = .apexAndSubdomains
            body = body.dropFirst()
        }
        guard let host = Host(String(body)) else { throw invalid }
        if kind != .exact {
            // A wildcard needs a registrable base: "*.com" or "*.github" would cover far too much.
            guard let name = host.name, name.split(separator: ".").count >= 2 else { throw invalid }
        }
        self.kind = kind
        self.host = host
        self.port = port
    }

    public func matchesName(_ candidate: Host) -> Bool {
        switch (host, candidate) {
        case (.address(let mine), .address(let other)):
            return kind == .exact && mine == other
        case (.name(let mine), .name(let other)):
            switch kind {
            case .exact: return other == mine
            case .subdomains: return other.hasSuffix("." + mine)
            case .apexAndSubdomains: return other == mine || other.hasSuffix("." + mine)
            }
        default:
            return false
        }
    }

    /// Name matches and, when the pattern has a port, the port is that port.
    public func matches(_ candidate: Host, port candidatePort: Int) -> Bool {
        matchesName(candidate) && (port == nil || port == candidatePort)
    }

    public var description: String {
        let prefix = kind == .subdomains ? "*." : (kind == .apexAndSubdomains ? "." : "")
        let hostText: String
        switch host {
        case .name(let name): hostText = name
        case .address(let address): hostText = port == nil ? address.description : address.hostLiteral
        }
        return prefix + hostText + (port.map { ":\($0)" } ?? "")
    }
}

extension String {
    func trimmingSpaces() -> String {
        // Header values usually carry no surrounding space: no scalar walk for those.
        if let first = utf8.first, let last = utf8.last, (0x21..<0x80).contains(first), (0x21..<0x80).contains(last) { return self }
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let end = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[start...end])
    }
}
