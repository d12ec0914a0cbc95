public import CordonCore
import CordonOS
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
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let value = bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        let directory = paths.stateHome + "/mcp"
        let path = directory + "/bridge-\(port).token"
        do throws(SystemError) {
            try FileIO.makeDirectories(directory, mode: 0o700)
            // Made before this run by someone else (a symlink, wider modes): refused, not used.
            var st = stat()
            guard lstat(directory, &st) == 0 else { throw SystemError.current("lstat", directory) }
            guard st.st_mode & S_IFMT == S_IFDIR, st.st_uid == getuid() else {
                throw SystemError("use", directory, errno: EPERM)
            }
            _ = chmod(directory, 0o700)
            try FileIO.writeAtomically(path, Array((value + "\n").utf8), mode: 0o600, durable: false)
        } catch {
            throw error.cordonError(.io, "cannot write the bridge's token file \(path)")
        }
        return BridgeToken(value: value, path: path)
    }

    /// Whether an `Authorization` header value carries the token (compared in constant time).
    public func admits(_ authorization: String?) -> Bool {
        guard let authorization, authorization.hasPrefix("Bearer ") else { return false }
        let given = Array(authorization.utf8.dropFirst(7))
        let expected = Array(value.utf8)
        guard given.count == expected.count else { return false }
        return zip(given, expected).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// Removes the token file.
    public func remove() { unlink(path) }
}
