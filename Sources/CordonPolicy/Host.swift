/// A request target after normalisation: a lower-case A-label name without trailing dot, or an
/// address. The one grammar for hosts: the profile's validation and the proxy both parse here.
/// Names take IDNA (U-labels become `xn--` A-labels) and one trailing dot; an IPv4 address has
/// one spelling, dotted-quad decimal (see `IPAddress.spellingProblem`); a name whose last label
/// is all digits is not a domain name (resolvers may read it as an address) and is refused.
public enum Host: Hashable, Sendable, CustomStringConvertible {
    case name(String)
    case address(IPAddress)

    /// Nil when `text` is neither a valid DNS name nor an address.
    public init?(_ text: String) {
        switch Host.parseASCII(text) {
        case .some(.some(let host)): self = host
        case .some(.none): return nil
        case .none:
            guard case .success(let host) = Host.parseGeneral(text) else { return nil }
            self = host
        }
    }

    /// The host, or what is wrong with `text` (a phrase such as "has an empty label").
    public static func parse(_ text: String) -> Result<Host, PolicyProblem> {
        if case .some(.some(let host)) = parseASCII(text) { return .success(host) }
        return parseGeneral(text)
    }

    /// The general path alone (tests compare it with the byte-wise one).
    package init?(general text: String) {
        guard case .success(let host) = Host.parseGeneral(text) else { return nil }
        self = host
    }

    /// IDNA, IPv6 forms, and everything `parseASCII` leaves to it; the failure says why.
    static func parseGeneral(_ original: String) -> Result<Host, PolicyProblem> {
        func bad(_ why: String) -> Result<Host, PolicyProblem> { .failure(PolicyProblem(why)) }
        var text = original
        if text.hasPrefix("[") {
            guard text.hasSuffix("]") else { return bad("has an unclosed \"[\"") }
            return IPAddress.parse(text).map(Host.address)
        }
        if text.contains(":") { return IPAddress.parse(text).map(Host.address) }
        // IDNA full stops (U+3002, U+FF0E, U+FF61) separate labels like ".".
        text = String(text.map { "\u{3002}\u{FF0E}\u{FF61}".contains($0) ? "." : $0 })
        if text.hasSuffix(".") { text.removeLast() }
        guard !text.isEmpty else { return bad(original.isEmpty ? "is empty" : "has no name before the trailing dot") }
        let lower = text.lowercased()
        if let address = IPAddress(lower) { return .success(.address(address)) }
        if let problem = IPAddress.spellingProblem(lower) { return .failure(problem) }
        var labels: [String] = []
        for label in lower.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty else { return bad("has an empty label (two dots in a row, or a leading dot)") }
            var ascii = String(label)
            if !label.allSatisfy(\.isASCII) {
                guard let encoded = Punycode.encode(String(label)) else { return bad("has a label that cannot be written as an A-label") }
                ascii = "xn--" + encoded
            }
            guard ascii.utf8.count <= 63 else { return bad("has a label longer than 63 characters") }
            guard ascii.utf8.allSatisfy({ Host.labelBytes.contains($0) }) else {
                return bad("has characters other than letters, digits, \"-\" and \"_\"")
            }
            guard ascii.first != "-", ascii.last != "-" else { return bad("has a label starting or ending with \"-\"") }
            labels.append(ascii)
        }
        let name = labels.joined(separator: ".")
        guard name.utf8.count <= 253 else { return bad("is longer than 253 characters") }
        if let last = labels.last, last.allSatisfy(\.isASCIIDigit) {
            return bad(
                "ends in the all-digit label \"\(last)\": a last label all digits is not a domain name (resolvers may read it as an address), and this is not an IPv4 address either"
            )
        }
        return .success(.name(name))
    }

    private static let labelBytes: Set<UInt8> = Set(Array("abcdefghijklmnopqrstuvwxyz0123456789-_".utf8))

    /// The same rules as the general path, on bytes, for the common case (ASCII, no `:` or `[`):
    /// the proxy parses a host several times per request, and Character-wise String work was 7% of
    /// its CPU. `nil` means "not ASCII or an IPv6 form: take the general path"; `.some(nil)` is
    /// invalid (`parse` then asks the general path why).
    private static func parseASCII(_ text: String) -> Host?? {
        var bytes = Array(text.utf8)
        var literalCandidate = true
        for index in bytes.indices {
            let byte = bytes[index]
            if byte >= 0x80 || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "[") { return .none }
            if byte >= UInt8(ascii: "A"), byte <= UInt8(ascii: "Z") { bytes[index] = byte + 32 }
            // inet_aton forms use only digits, hex letters, `x`, dots and a sign; anything else is a name.
            switch bytes[index] {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"), UInt8(ascii: "x"), UInt8(ascii: "."),
                UInt8(ascii: "+"), UInt8(ascii: "-"):
                break
            default: literalCandidate = false
            }
        }
        if bytes.last == UInt8(ascii: ".") { bytes.removeLast() }
        guard !bytes.isEmpty else { return .some(nil) }
        if literalCandidate {
            let literal = String(decoding: bytes, as: UTF8.self)
            if let address = IPAddress(literal) { return .some(.address(address)) }
            // inet_aton's other spellings (octal, hex, integer, shorthand) are refused.
            if IPAddress.spellingProblem(literal) != nil { return .some(nil) }
        }
        guard bytes.count <= 253 else { return .some(nil) }
        var start = 0
        var lastLabelAllDigits = true
        for end in 0...bytes.count where end == bytes.count || bytes[end] == UInt8(ascii: ".") {
            let length = end - start
            guard length >= 1, length <= 63, bytes[start] != UInt8(ascii: "-"), bytes[end - 1] != UInt8(ascii: "-") else { return .some(nil) }
            lastLabelAllDigits = true
            for byte in bytes[start..<end] {
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): break
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "-"), UInt8(ascii: "_"): lastLabelAllDigits = false
                default: return .some(nil)
                }
            }
            start = end + 1
        }
        // A name whose last label is all digits would be read as an address by some resolvers.
        if lastLabelAllDigits { return .some(nil) }
        return .some(.name(String(decoding: bytes, as: UTF8.self)))
    }

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

/// Splits `host:port` / `[v6]:port` authorities; the port is required. Works on the UTF-8 bytes
/// (it runs for every proxied request).
public func parseAuthority(_ authority: String) -> (host: String, port: Int)? {
    let bytes = authority.utf8
    let colon: String.Index
    if bytes.first == UInt8(ascii: "[") {
        guard let close = bytes.firstIndex(of: UInt8(ascii: "]")) else { return nil }
        colon = bytes.index(after: close)
        guard colon < bytes.endIndex, bytes[colon] == UInt8(ascii: ":") else { return nil }
    } else {
        guard let first = bytes.firstIndex(of: UInt8(ascii: ":")), first > bytes.startIndex else { return nil }
        colon = first
    }
    guard let port = decimalPort(bytes[bytes.index(after: colon)...]) else { return nil }
    return (String(authority[..<colon]), port)
}

/// 1–65535 written in ASCII digits only (no sign, no spaces).
package func decimalPort(_ digits: Substring.UTF8View) -> Int? {
    guard !digits.isEmpty, digits.count <= 5 else { return nil }
    var value = 0
    for byte in digits {
        guard (0x30...0x39).contains(byte) else { return nil }
        value = value * 10 + Int(byte - 0x30)
    }
    return (1...65535).contains(value) ? value : nil
}
