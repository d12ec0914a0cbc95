public import CordonPolicy
#if canImport(Glibc)
    import Glibc
#endif

/// Why a dial did not produce a connection.
public enum DialError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Every address was refused by the address policy (the first reason is kept).
    case addressRefused(address: IPAddress, reason: String)
    case resolutionFailed(String)
    case connectFailed(String)
    case timedOut
    case parentProxyRefused(String)
    /// TLS to an `https://` parent proxy failed (its certificate not trusted or naming another host).
    case parentProxyTLS(String)

    public var description: String {
        switch self {
        case .addressRefused(let address, let reason): return "address \(address) is \(reason)"
        case .resolutionFailed(let why): return why
        case .connectFailed(let why): return "connect failed: \(why)"
        case .timedOut: return "connect timed out"
        case .parentProxyRefused(let why): return "parent proxy refused: \(why)"
        case .parentProxyTLS(let why): return "TLS to the parent proxy failed: \(why)"
        }
    }
}
