/// The domain patterns `egress` accepts, checked without I/O.
///
/// `example.com` is exact, `*.example.com` matches subdomains only, `.example.com` matches the apex
/// and its subdomains; each may end in `:port`. IPv6 literals are written in brackets (`[::1]:443`).
enum DomainPattern {
    static let expected = "expected \"example.com\", \"*.example.com\" or \".example.com\", optionally with \":port\""

    /// Nil when `text` is a valid pattern, else what is wrong with it. `allowAny` admits a bare `*`
    /// (deny lists: every host, optionally on one port).
    static func problem(_ text: String, allowAny: Bool = false) -> String? {
        if text.isEmpty { return "is empty" }
        if text.contains("://") || text.contains("/") {
            return "looks like a URL; write the host only (\"github.com\", not \"https://github.com/\")"
        }
        if text.contains(where: { $0 == " " || $0 == "\t" }) { return "contains whitespace" }
        var host = Substring(text)
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return "has an unclosed \"[\"" }
            let literal = text[text.index(after: text.startIndex)..<close]
            guard IPAddress.isIPv6(String(literal)) else { return "\"\(literal)\" is not an IPv6 address" }
            let rest = text[text.index(after: close)...]
            if rest.isEmpty { return nil }
            guard rest.hasPrefix(":") else { return "has text after \"]\" that is not \":port\"" }
            return portProblem(rest.dropFirst())
        }
        let colons = text.filter { $0 == ":" }.count
        if colons > 1 { return "has more than one \":\"; write IPv6 addresses in brackets (\"[::1]:443\")" }
        if colons == 1, let colon = text.firstIndex(of: ":") {
            if let problem = portProblem(text[text.index(after: colon)...]) { return problem }
            host = text[..<colon]
        }
        return hostProblem(host.lowercased(), allowAny: allowAny)
    }

    private static func portProblem(_ port: Substring) -> String? {
        guard let value = Int(port), value >= 1, value <= 65535, port.allSatisfy(\.isASCII) else {
            return "has port \"\(port)\"; a port is a number from 1 to 65535"
        }
        return nil
    }

    private static func hostProblem(_ host: String, allowAny: Bool) -> String? {
        if host.isEmpty { return "has no host before \":\"" }
        if host == "*" { return allowAny ? nil : "\"*\" would allow every host" }
        var rest = Substring(host)
        var wildcard = false
        if rest.hasPrefix("*.") {
            rest = rest.dropFirst(2)
            wildcard = true
        } else if rest.hasPrefix(".") {
            rest = rest.dropFirst()
            wildcard = true
        }
        if rest.contains("*") { return "may use \"*\" only as a leading \"*.\" label" }
        if IPAddress.isIPv4(String(rest)) { return wildcard ? "puts a wildcard on an IP address" : nil }
        let labels = rest.split(separator: ".", omittingEmptySubsequences: false)
        if labels.contains(where: \.isEmpty) { return "has an empty label (two dots, or a trailing dot)" }
        if wildcard && labels.count < 2 {
            return "needs a dot after the wildcard part (\"*.example.com\"); a whole top-level domain is too broad"
        }
        if rest.count > 253 { return "is longer than 253 characters" }
        for label in labels {
            if label.count > 63 { return "has a label longer than 63 characters" }
            if label.hasPrefix("-") || label.hasSuffix("-") { return "has a label starting or ending with \"-\"" }
            let valid = label.unicodeScalars.allSatisfy { ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || $0 == "-" || $0 == "_" }
            if !valid { return "has characters other than letters, digits, \"-\" and \"_\"" }
        }
        return nil
    }
}

/// Textual IP address and CIDR checks (no resolver, no sockets).
enum IPAddress {
    static func isIPv4(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            !part.isEmpty && part.count <= 3 && part.allSatisfy(\.isASCII) && part.allSatisfy(\.isNumber) && (Int(part) ?? 256) <= 255
        }
    }

    static func isIPv6(_ text: String) -> Bool {
        guard text.contains(":"), text.count <= 45 else { return false }
        var body = Substring(text)
        var groupsNeeded = 8
        if let lastColon = body.lastIndex(of: ":"), body[body.index(after: lastColon)...].contains(".") {
            guard isIPv4(String(body[body.index(after: lastColon)...])) else { return false }
            body = body[...lastColon]
            if !body.hasSuffix("::") { body = body.dropLast() }
            groupsNeeded = 6
        }
        let halves = body.split(separator: "::", omittingEmptySubsequences: false).map(String.init)
        guard halves.count <= 2 else { return false }
        func groups(_ s: String) -> [Substring]? {
            if s.isEmpty { return [] }
            let g = s.split(separator: ":", omittingEmptySubsequences: false)
            let ok = g.allSatisfy { !$0.isEmpty && $0.count <= 4 && $0.allSatisfy(\.isHexDigit) }
            return ok ? g : nil
        }
        guard let first = groups(halves[0]) else { return false }
        if halves.count == 2 {
            guard let second = groups(halves[1]) else { return false }
            return first.count + second.count < groupsNeeded
        }
        return first.count == groupsNeeded
    }

    static func isAddress(_ text: String) -> Bool { isIPv4(text) || isIPv6(text) }

    /// `10.0.0.0/8`, `fd00::/8`; a bare address counts as a single host.
    static func cidrProblem(_ text: String) -> String? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = parts.first else { return "is not a CIDR" }
        let v4 = isIPv4(String(address))
        guard v4 || isIPv6(String(address)) else { return "\"\(address)\" is not an IP address" }
        if parts.count == 2 {
            guard let prefix = Int(parts[1]), prefix >= 0, prefix <= (v4 ? 32 : 128) else {
                return "has prefix length \"\(parts[1])\"; expected 0–\(v4 ? 32 : 128)"
            }
        }
        return nil
    }
}
