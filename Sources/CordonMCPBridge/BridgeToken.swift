public import CordonCore
import CordonTLS
import Glibc

/// The bearer token of an HTTP bridge: 32 random bytes as hex, in a 0600 file under cordon's
/// state directory (`<state>/mcp/bridge-PORT.token`, the directory 0700) for the user's client
/// to read, removed when the bridge ends. A request without it is answered 401, unread.
public struct BridgeToken: Sendable {
    public let value: String
    public let path: String

    /// Makes a fresh token for the bridge on `port` and writes its file (replacing one a bridge
    /// that was killed left there).
    public static func create(paths: CordonPaths, port: Int) throws(CordonError) -> BridgeToken {
        let value = BearerCredential.make()
        let directory = paths.stateHome + "/mcp"
        let path = directory + "/bridge-\(port).token"
        // A directory made before this run by someone else (a symlink, another owner, wider modes) is refused.
        try PrivateFiles.prepareDirectory(directory)
        try PrivateFiles.write(path, Array((value + "\n").utf8), mode: 0o600)
        return BridgeToken(value: value, path: path)
    }

    /// Whether an `Authorization` header value carries the token (`BearerCredential.admits`).
    public func admits(_ authorization: String?) -> Bool { BearerCredential.admits(authorization, token: value) }

    /// Removes the token file.
    public func remove() { unlink(path) }
}
