/// A request target after normalisation: a lower-case A-label name without trailing dot, or an
/// address (including the inet_aton shorthands, which resolvers treat as addresses).
public enum Host: Hashable, Sendable, CustomStringConvertible {
    case name(String)
    case address(IPAddress)

    /// Nil when `text` is neither a valid DNS name nor an address.
    public init?(_ text: String) {
        var text = text
        if text.hasPrefix("[") {
            guard text.hasSuffix("]"), let address = IPAddress(text) else { return nil }
            self = .address(address)
            return
        }
        if text.contains(":") {
            guard let address = IPAddress(text) else { return nil }
            self = .address(address)
            return
        }
        // IDNA full stops (U+3002, U+FF0E, U+FF61) separate labels like ".".
        text = String(text.map { "\u{3002}\u{FF0E}\u{FF61}".contains($0) ? "." : $0 })
        if text.hasSuffix(".") { text.removeLast() }
        guard !text.isEmpty else { return nil }
        let lower = text.lowercased()
        if let address = IPAddress(lenientLiteral: lower) {
            self = .address(address)
            return
        }
        var labels: [String] = []
        for label in lower.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty else { return nil }
            var ascii = String(label)
            if !label.allSatisfy(\.isASCII) {
                guard let encoded = Punycode.encode(String(label)) else { return nil }
                ascii = "xn--" + encoded
            }
            guard ascii.utf8.count <= 63,
                ascii.utf8.allSatisfy({ Host.labelBytes.contains($0) }),
                ascii.first != "-", ascii.last != "-"
            else { return nil }
            labels.append(ascii)
        }
        let name = labels.joined(separator: ".")
        guard name.utf8.count <= 253 else { return nil }
        // A name whose last label is all digits would be read as an address by some resolvers.
        if let last = labels.last, last.allSatisfy(\.isASCIIDigit) { return nil }
        self = .name(name)
    }

    private static let labelBytes: Set<UInt8> = Set(Array("abcdefghijklmnopqrstuvwxyz0123456789-_".utf8))

    public var description: String {
        switch self {
        case .name(let name): return name
        case .address(let address): return address.description
        }
    }

    public var name: String? {
        if case .name(let name) = self { return name }
        return nil
    }

    public var address: IPAddress? {
        if case .address(let address) = self { return address }
        return nil
    }
}

/// Splits `host:port` / `[v6]:port` authorities; the port is required.
public func parseAuthority(_ authority: String) -> (host: String, port: Int)? {
    if authority.hasPrefix("[") {
        guard let close = authority.firstIndex(of: "]") else { return nil }
        let host = String(authority[...close])
        let rest = authority[authority.index(after: close)...]
        guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()), (1...65535).contains(port) else { return nil }
        return (host, port)
    }
    let pieces = authority.split(separator: ":", omittingEmptySubsequences: false)
    guard pieces.count == 2, !pieces[0].isEmpty, let port = Int(pieces[1]), (1...65535).contains(port) else {
        return nil
    }
    return (String(pieces[0]), port)
}
