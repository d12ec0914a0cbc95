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
                guard BearerCredential.isWellFormed(text) else {
                    throw CordonError(.invalidArgument, "\(file) does not hold a token cordon made", hint: "remove it; cordon makes a new one")
                }
                return text
            }
            let token = BearerCredential.make()
            try PrivateFiles.write(file, Array((token + "\n").utf8), mode: 0o600)
            return token
        }
    }

    /// Whether `header` (an `Authorization` value) is `Bearer TOKEN` (`BearerCredential.admits`).
    public static func matches(_ header: String?, token: String) -> Bool {
        BearerCredential.admits(header, token: token)
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
