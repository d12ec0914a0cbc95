/// What the first bytes of a flow say about the name it is for: the SNI of a TLS ClientHello or
/// the Host of an HTTP/1 request. Pure, so the SNI gate and transparent flows share it.
public enum FirstBytes: Equatable, Sendable {
    case needMore
    /// A ClientHello; `serverName` is nil when it carries no SNI. With ECH this is the outer name.
    case tls(serverName: String?)
    /// An HTTP/1 request head; `host` is the Host header without port, nil when absent.
    case http(method: String, host: String?)
    /// TLS or HTTP that breaks its protocol's rules in a way that could make two parsers disagree
    /// (a second SNI, a duplicate extension, a second Host, a bare LF, conflicting lengths): always
    /// refused, never passed as opaque traffic. `reason` says what was wrong.
    case malformed(reason: String)
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
                    switch parseClientHello(Array(handshake[4..<(4 + messageLength)])) {
                    case .notAHello: return .other
                    case .malformed(let reason): return .malformed(reason: reason)
                    case .serverName(let name): return .tls(serverName: name)
                    }
                }
            }
        }
    }

    enum ClientHello: Equatable {
        /// The one host_name, nil without a server_name extension.
        case serverName(String?)
        /// Truncated or inconsistent lengths: not a ClientHello cordon can read.
        case notAHello
        /// A well-formed hello that breaks a rule the gate relies on (RFC 8446 4.2, RFC 6066 3).
        case malformed(String)
    }

    /// Parses a ClientHello body once, completely: every extension is walked, a type seen twice is
    /// refused (RFC 8446 4.2), and the server_name extension must hold exactly one entry, a
    /// host_name, and nothing after it (RFC 6066 3 allows one name per type; a second entry of
    /// any type is refused so that no server can read a name the gate did not judge).
    static func parseClientHello(_ body: [UInt8]) -> ClientHello {
        var reader = Reader(body)
        guard reader.skip(2 + 32),  // version, random
            let sessionLength = reader.u8(), reader.skip(Int(sessionLength)),
            let suitesLength = reader.u16(), reader.skip(Int(suitesLength)),
            let compressionLength = reader.u8(), reader.skip(Int(compressionLength))
        else { return .notAHello }
        guard !reader.isAtEnd else { return .serverName(nil) }
        guard let extensionsLength = reader.u16(), var extensions = reader.take(Int(extensionsLength)).map(Reader.init) else {
            return .notAHello
        }
        guard reader.isAtEnd else { return .malformed("bytes after the ClientHello's extensions") }
        var seen = Set<UInt16>()
        var serverName: String?
        while !extensions.isAtEnd {
            guard let type = extensions.u16(), let length = extensions.u16(), let data = extensions.take(Int(length)) else {
                return .notAHello
            }
            guard seen.insert(type).inserted else { return .malformed("TLS ClientHello carries extension \(type) twice") }
            guard type == 0 else { continue }
            var sni = Reader(data)
            guard let listLength = sni.u16(), var list = sni.take(Int(listLength)).map(Reader.init), sni.isAtEnd else {
                return .malformed("TLS server_name extension has inconsistent lengths")
            }
            guard let nameType = list.u8(), let nameLength = list.u16(), let name = list.take(Int(nameLength)) else {
                return .malformed("TLS server_name extension has an empty or truncated name list")
            }
            guard list.isAtEnd else { return .malformed("TLS server_name extension carries more than one name") }
            guard nameType == 0 else { return .malformed("TLS server_name entry is not a host_name (type \(nameType))") }
            guard !name.isEmpty, name.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                return .malformed("TLS server_name is empty or not printable ASCII")
            }
            serverName = String(decoding: name, as: UTF8.self)
        }
        return .serverName(serverName)
    }

    // MARK: HTTP

    static func inspectHTTP(_ bytes: [UInt8]) -> FirstBytes {
        // Judge the request line as soon as it is complete, so banners (`SSH-2.0-…`) are opaque.
        guard let lineEnd = bytes.firstIndex(of: 0x0A) else {
            return bytes.count > 8192 || !bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) ? .other : .needMore
        }
        let parts = bytes[..<lineEnd].split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[2].starts(with: "HTTP/1.".utf8), parts[0].allSatisfy({ (0x41...0x5A).contains($0) }) else {
            return .other
        }
        guard lineEnd > 0, bytes[lineEnd - 1] == 0x0D, let version = parts[2].last, version == 0x0D else {
            return .malformed(reason: "HTTP request line ends in a bare LF")
        }
        // One pass over the head, line by line: every line ends in CRLF, and the empty line ends it.
        var fields: [(name: String, value: String)] = []
        var lineStart = lineEnd + 1
        while true {
            guard let end = bytes[lineStart...].firstIndex(of: 0x0A) else {
                return bytes.count >= limit ? .malformed(reason: "HTTP request head larger than \(limit) bytes") : .needMore
            }
            guard end > lineStart, bytes[end - 1] == 0x0D else { return .malformed(reason: "HTTP request head has a bare LF") }
            let line = bytes[lineStart..<(end - 1)]
            lineStart = end + 1
            if line.isEmpty { break }
            if line.contains(0x0D) { return .malformed(reason: "HTTP request head has a bare CR") }
            if let first = line.first, first == 0x20 || first == 0x09 {
                return .malformed(reason: "HTTP request head has a folded line (obs-fold)")
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
                return .malformed(reason: "HTTP header line without a colon")
            }
            let name = line[..<colon]
            guard !name.isEmpty, name.allSatisfy(RequestHeadRules.isTokenByte) else {
                return .malformed(reason: "HTTP header name \(String(decoding: name, as: UTF8.self).debugDescription) is not a token (whitespace before the colon?)")
            }
            fields.append((String(decoding: name, as: UTF8.self), String(decoding: line[(colon + 1)...], as: UTF8.self)))
        }
        if let problem = RequestHeadRules.problem(fields) { return .malformed(reason: problem) }
        let host = fields.first { $0.name.utf8.equalsIgnoringASCIICase("host".utf8) }.map { stripPort($0.value.trimmingSpaces()) }
        return .http(method: String(decoding: parts[0], as: UTF8.self), host: host)
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
