import CordonPolicy

/// The SOCKS5 greeting and CONNECT request as bytes (RFC 1928), read by `SOCKS5Handler`. Pure, so
/// the fuzz targets in fuzz/ read the bytes exactly as the proxy does.
public enum SOCKS5Wire {
    public enum Greeting: Equatable, Sendable {
        case needMore
        /// The first byte is not version 5.
        case notSOCKS5
        /// `length` bytes of greeting; whether they offer "no authentication" (0x00).
        case methods(offersNoAuthentication: Bool, length: Int)
    }

    public enum Request: Equatable, Sendable {
        case needMore
        case notSOCKS5
        case unsupportedAddressType
        /// `length` bytes of request: the command, the host (an address's text, "" for an address
        /// the bytes cannot spell) and the port.
        case request(command: UInt8, host: String, port: Int, length: Int)
    }

    public static func greeting(_ bytes: [UInt8]) -> Greeting {
        guard bytes.count >= 2 else { return .needMore }
        guard bytes[0] == 0x05 else { return .notSOCKS5 }
        let count = Int(bytes[1])
        guard bytes.count >= 2 + count else { return .needMore }
        return .methods(offersNoAuthentication: bytes[2..<(2 + count)].contains(0x00), length: 2 + count)
    }

    public static func request(_ bytes: [UInt8]) -> Request {
        guard bytes.count >= 5 else { return .needMore }
        guard bytes[0] == 0x05 else { return .notSOCKS5 }
        let host: String
        let length: Int
        switch bytes[3] {
        case 0x01:
            length = 4 + 4 + 2
            guard bytes.count >= length else { return .needMore }
            host = IPAddress(bytes: Array(bytes[4..<8]))?.description ?? ""
        case 0x04:
            length = 4 + 16 + 2
            guard bytes.count >= length else { return .needMore }
            host = IPAddress(bytes: Array(bytes[4..<20]))?.hostLiteral ?? ""
        case 0x03:
            let nameLength = Int(bytes[4])
            length = 5 + nameLength + 2
            guard bytes.count >= length else { return .needMore }
            host = String(decoding: bytes[5..<(5 + nameLength)], as: UTF8.self)
        default:
            return .unsupportedAddressType
        }
        let port = Int(bytes[length - 2]) << 8 | Int(bytes[length - 1])
        return .request(command: bytes[1], host: host, port: port, length: length)
    }
}
