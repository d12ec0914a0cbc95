public import CordonCore
import CordonTLS

/// The bearer token `cordon mcp --http` asks of every request: 32 random bytes as hex, made once
/// and kept in `<state>/mcp/http-token` (0600 in a 0700 directory; a file others could read, a
/// symlink or another user's is refused), so a client's configuration survives a restart.
public enum BearerToken {
    public static func path(paths: CordonPaths) -> String { paths.stateHome + "/mcp/http-token" }

    /// The token, made the first time.
    public static func load(paths: CordonPaths) throws(CordonError) -> String {
        let file = path(paths: paths)
        try PrivateFiles.prepareDirectory(paths.stateHome + "/mcp")
        return try PrivateFiles.withLock(file + ".lock") { () throws(CordonError) -> String in
            if let bytes = try PrivateFiles.readOwnerOnly(file) {
                let text = String(decoding: bytes, as: UTF8.self).trimmingWhitespace
                guard text.count == 64, text.allSatisfy(\.isHexDigit) else {
                    throw CordonError(.invalidArgument, "\(file) does not hold a token cordon made", hint: "remove it; cordon makes a new one")
                }
                return text
            }
            var generator = SystemRandomNumberGenerator()
            let token = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }.map { byte in
                let hex = String(byte, radix: 16)
                return hex.count == 1 ? "0" + hex : hex
            }.joined()
            try PrivateFiles.write(file, Array((token + "\n").utf8), mode: 0o600)
            return token
        }
    }

    /// Whether `header` (an `Authorization` value) is `Bearer TOKEN`, compared in constant time.
    public static func matches(_ header: String?, token: String) -> Bool {
        guard let header, header.count > 7, header.prefix(7).lowercased() == "bearer " else { return false }
        let given = Array(header.dropFirst(7).utf8)
        let expected = Array(token.utf8)
        guard given.count == expected.count else { return false }
        var difference: UInt8 = 0
        for index in expected.indices { difference |= given[index] ^ expected[index] }
        return difference == 0
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        var text = Substring(self)
        while let last = text.last, last.isWhitespace { text.removeLast() }
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        return String(text)
    }
}
