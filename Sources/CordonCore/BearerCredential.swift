/// The bearer token of cordon's loopback HTTP servers (`cordon mcp --http`, `cordon mcp bridge
/// --http`): 32 random bytes as lowercase hex, and the check of an `Authorization` header against
/// it, in constant time. Where each keeps its token is its own business (`BearerToken`,
/// `BridgeToken`).
public enum BearerCredential {
    /// A fresh token from the system's random source.
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            .map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// Whether `text` has a token's shape (what a token file must hold).
    public static func isWellFormed(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// Whether `header` (an `Authorization` value) is `Bearer TOKEN`, the scheme in any letter
    /// case (RFC 9110), the token compared in constant time.
    public static func admits(_ header: String?, token: String) -> Bool {
        guard let header, header.utf8.count > 7, header.utf8.prefix(7).elementsEqual("bearer ".utf8, by: { ($0 | 0x20) == $1 }) else {
            return false
        }
        let given = Array(header.utf8.dropFirst(7))
        let expected = Array(token.utf8)
        guard given.count == expected.count else { return false }
        return zip(given, expected).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
