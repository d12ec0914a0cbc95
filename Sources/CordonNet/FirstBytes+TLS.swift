/// The TLS side of `FirstBytes`: the ClientHello, reassembled from its records and parsed once, completely.
extension FirstBytes {
    static func inspectTLS(_ bytes: [UInt8]) -> FirstBytes {
        // Reassemble the handshake message from as many records as it spans.
        var handshake: [UInt8] = []
        var offset = 0
        // Once the first record holds the start of a ClientHello, a hello that would not fit the
        // limit is refused, not opaque: some servers read hellos of up to 128 KiB, and one with
        // another name must not pass a port that allows opaque bytes because cordon stopped reading.
        var isHello = false
        let tooLarge = FirstBytes.malformed(reason: "TLS ClientHello larger than \(limit / 1024) KiB")
        while true {
            guard bytes.count >= offset + 5 else { return bytes.count >= limit ? (isHello ? tooLarge : .other) : .needMore }
            guard bytes[offset] == 0x16, bytes[offset + 1] == 0x03 else { return .other }
            let length = Int(bytes[offset + 3]) << 8 | Int(bytes[offset + 4])
            guard length > 0, length <= 16_384 + 2048 else { return .other }
            guard bytes.count >= offset + 5 + length else { return bytes.count >= limit ? (isHello ? tooLarge : .other) : .needMore }
            handshake += bytes[(offset + 5)..<(offset + 5 + length)]
            offset += 5 + length
            if handshake.count >= 4 {
                guard handshake[0] == 0x01 else { return .other }
                isHello = true
                let messageLength = Int(handshake[1]) << 16 | Int(handshake[2]) << 8 | Int(handshake[3])
                guard messageLength <= limit else { return tooLarge }
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
}
