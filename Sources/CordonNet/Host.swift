/// A request target after normalisation: a lower-case A-label name without trailing dot, or an
/// address (including the inet_aton shorthands, which resolvers treat as addresses).
public enum Host: Hashable, Sendable, CustomStringConvertible {
    case name(String)
    case address(IPAddress)

    /// Nil when `text` is neither a valid DNS name nor an address.
    public init?(_ text: String) {
        if let parsed = Host.parseASCII(text) {
            guard let host = parsed else { return nil }
            self = host
            return
        }
        self.init(general: text)
    }

    /// The general path: IDNA, IPv6 forms, and everything `parseASCII` leaves to it.
    init?(general text: String) {
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

    /// The same rules as the general path, on bytes, for the common case (ASCII, no `:` or `[`):
    /// the proxy parses a host several times per request, and Character-wise String work was 7% of
    /// its CPU. `nil` means "not ASCII or an IPv6 form: take the general path"; `.some(nil)` is invalid.
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
        if literalCandidate, let address = IPAddress(lenientLiteral: String(decoding: bytes, as: UTF8.self)) {
            return .some(.address(address))
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
func decimalPort(_ digits: Substring.UTF8View) -> Int? {
    guard !digits.isEmpty, digits.count <= 5 else { return nil }
    var value = 0
    for byte in digits {
        guard (0x30...0x39).contains(byte) else { return nil }
        value = value * 10 + Int(byte - 0x30)
    }
    return (1...65535).contains(value) ? value : nil
}
