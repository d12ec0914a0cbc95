import CordonPolicy

/// The parts of an absolute-form `http://` request target.
struct ForwardTarget: Equatable {
    var host: String
    var port: Int
    var authority: String
    var pathAndQuery: String

    init?(uri: String) {
        guard Self.hasScheme(uri) else { return nil }
        // On the UTF-8 bytes: the delimiters are ASCII, and this runs for every request.
        let bytes = uri.utf8
        let start = bytes.index(bytes.startIndex, offsetBy: 7)
        let rest = bytes[start...]
        let end = rest.firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") } ?? rest.endIndex
        guard end > start, !rest[..<end].contains(UInt8(ascii: "@")) else { return nil }
        let authority = String(uri[start..<end])
        let pathEnd = rest[end...].firstIndex(of: UInt8(ascii: "#")) ?? rest.endIndex
        var path = String(uri[end..<pathEnd])
        if path.isEmpty || path.utf8.first == UInt8(ascii: "?") { path = "/" + path }
        if let parsed = parseAuthority(authority) {
            (host, port) = parsed
        } else if !authority.utf8.contains(UInt8(ascii: ":")) || (authority.utf8.first == UInt8(ascii: "[") && authority.utf8.last == UInt8(ascii: "]")) {
            // No port: a name or address alone, or a bracketed IPv6 address.
            (host, port) = (authority, 80)
        } else {
            return nil
        }
        self.authority = authority
        self.pathAndQuery = path
    }

    /// `http://` in any case.
    static func hasScheme(_ uri: String) -> Bool {
        uri.utf8.prefix(7).equalsIgnoringASCIICase("http://".utf8)
    }

    /// Same host (normalised) and same port (80 when the header names none).
    func matches(hostHeader: String) -> Bool {
        let headerHost = FirstBytes.stripPort(hostHeader.trimmingSpaces())
        let headerPort = parseAuthority(hostHeader.trimmingSpaces())?.port ?? 80
        // Text that is no host (say an address in a refused spelling) must be the same text; the
        // policy then refuses it with its reason.
        guard let a = Host(headerHost), let b = Host(host) else { return headerHost.lowercased() == host.lowercased() && headerPort == port }
        return a == b && headerPort == port
    }
}
