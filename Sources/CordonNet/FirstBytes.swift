/// What the first bytes of a flow say about the name it is for: the SNI of a TLS ClientHello or
/// the Host of an HTTP/1 request. Pure, so the SNI gate and transparent flows share it.
public enum FirstBytes: Equatable, Sendable {
    case needMore
    /// A ClientHello; `serverName` is nil when it carries no SNI. With ECH this is the outer name.
    case tls(serverName: String?)
    /// An HTTP/1 request head; `host` is the Host header without port, nil when absent.
    case http(method: String, host: String?)
    case other

    /// The most bytes held while deciding; a ClientHello or request head larger than this is `other`.
    public static let limit = 64 * 1024

    public static func inspect(_ bytes: [UInt8]) -> FirstBytes {
        guard let first = bytes.first else { return .needMore }
        if first == 0x16 { return inspectTLS(bytes) }
        if (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first) { return inspectHTTP(bytes) }
        return .other
    }

    // MARK: TLS

    static func inspectTLS(_ bytes: [UInt8]) -> FirstBytes {
        // Reassemble the handshake message from as many records as it spans.
        var handshake: [UInt8] = []
        var offset = 0
        while true {
            guard bytes.count >= offset + 5 else { return bytes.count >= limit ? .other : .needMore }
            guard bytes[offset] == 0x16, bytes[offset + 1] == 0x03 else { return .other }
            let length = Int(bytes[offset + 3]) << 8 | Int(bytes[offset + 4])
            guard length > 0, length <= 16_384 + 2048 else { return .other }
            guard bytes.count >= offset + 5 + length else { return bytes.count >= limit ? .other : .needMore }
            handshake += bytes[(offset + 5)..<(offset + 5 + length)]
            offset += 5 + length
            if handshake.count >= 4 {
                guard handshake[0] == 0x01 else { return .other }
                let messageLength = Int(handshake[1]) << 16 | Int(handshake[2]) << 8 | Int(handshake[3])
                guard messageLength <= limit else { return .other }
                if handshake.count >= 4 + messageLength {
                    guard let name = serverName(clientHello: Array(handshake[4..<(4 + messageLength)])) else { return .other }
                    return .tls(serverName: name.isEmpty ? nil : name)
                }
            }
        }
    }

    /// The host_name from a ClientHello body; "" when there is no SNI extension, nil when malformed.
    static func serverName(clientHello body: [UInt8]) -> String? {
        var reader = Reader(body)
        guard reader.skip(2 + 32),  // version, random
            let sessionLength = reader.u8(), reader.skip(Int(sessionLength)),
            let suitesLength = reader.u16(), reader.skip(Int(suitesLength)),
            let compressionLength = reader.u8(), reader.skip(Int(compressionLength))
        else { return nil }
        guard !reader.isAtEnd else { return "" }
        guard let extensionsLength = reader.u16(), var extensions = reader.take(Int(extensionsLength)).map(Reader.init) else {
            return nil
        }
        while !extensions.isAtEnd {
            guard let type = extensions.u16(), let length = extensions.u16(), let data = extensions.take(Int(length)) else {
                return nil
            }
            guard type == 0 else { continue }
            var sni = Reader(data)
            guard let listLength = sni.u16(), var list = sni.take(Int(listLength)).map(Reader.init) else { return nil }
            while !list.isAtEnd {
                guard let nameType = list.u8(), let nameLength = list.u16(), let name = list.take(Int(nameLength)) else {
                    return nil
                }
                if nameType == 0 {
                    guard !name.isEmpty, name.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
                    return String(decoding: name, as: UTF8.self)
                }
            }
            return ""
        }
        return ""
    }

    // MARK: HTTP

    static func inspectHTTP(_ bytes: [UInt8]) -> FirstBytes {
        // Judge the request line as soon as it is complete, so banners (`SSH-2.0-…`) are opaque.
        if let lineEnd = bytes.firstIndex(of: 0x0A) {
            let line = String(decoding: bytes[..<lineEnd], as: UTF8.self).trimmingSpaces()
            let parts = line.split(separator: " ")
            guard parts.count == 3, parts[2].hasPrefix("HTTP/1."), parts[0].allSatisfy({ $0.isUppercase }) else { return .other }
        } else if bytes.count > 8192 || !bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            return .other
        }
        guard let end = headEnd(bytes) else { return bytes.count >= limit ? .other : .needMore }
        let head = String(decoding: bytes[..<end], as: UTF8.self)
        let lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        guard let requestLine = lines.first else { return .other }
        let parts = requestLine.split(separator: " ")
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1."), parts[0].allSatisfy({ $0.isUppercase }) else { return .other }
        var host: String?
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            if line[..<colon].lowercased() == "host" {
                guard host == nil else { return .other }  // two Host headers: ambiguous, refuse
                host = stripPort(String(line[line.index(after: colon)...]).trimmingSpaces())
            }
        }
        return .http(method: String(parts[0]), host: host)
    }

    static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4)
        where bytes[index] == 0x0D && bytes[index + 1] == 0x0A && bytes[index + 2] == 0x0D && bytes[index + 3] == 0x0A {
            return index
        }
        return nil
    }

    /// `host:port` → `host`; `[v6]:port` → `[v6]`.
    public static func stripPort(_ authority: String) -> String {
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return authority }
            return String(authority[...close])
        }
        let bytes = authority.utf8
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), !bytes[bytes.index(after: colon)...].contains(UInt8(ascii: ":")) else {
            return authority
        }
        return String(authority[..<colon])
    }
}

/// A bounds-checked cursor over bytes.
struct Reader {
    private let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset >= bytes.count }
    var remaining: Int { bytes.count - offset }

    mutating func u8() -> UInt8? {
        guard offset < bytes.count else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16() -> UInt16? {
        guard let a = u8(), let b = u8() else { return nil }
        return UInt16(a) << 8 | UInt16(b)
    }

    mutating func u32() -> UInt32? {
        guard let a = u16(), let b = u16() else { return nil }
        return UInt32(a) << 16 | UInt32(b)
    }

    mutating func take(_ count: Int) -> [UInt8]? {
        guard count >= 0, remaining >= count else { return nil }
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    mutating func skip(_ count: Int) -> Bool { take(count) != nil }

    mutating func seek(_ position: Int) -> Bool {
        guard position >= 0, position <= bytes.count else { return false }
        offset = position
        return true
    }
}

extension Collection<UInt8> {
    /// The same bytes as `lowercase` (which is lower-case ASCII), ignoring ASCII case here: header
    /// names, list tokens and URI schemes are compared this way on the raw bytes.
    func equalsIgnoringASCIICase(_ lowercase: some Collection<UInt8>) -> Bool {
        count == lowercase.count && zip(self, lowercase).allSatisfy { ((0x41...0x5A).contains($0) ? $0 | 0x20 : $0) == $1 }
    }
}
