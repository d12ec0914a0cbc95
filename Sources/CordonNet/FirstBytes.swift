import CordonPolicy

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

    /// The most bytes held while deciding; a ClientHello or request head larger than this is `malformed`.
    public static let limit = 64 * 1024

    public static func inspect(_ bytes: [UInt8]) -> FirstBytes {
        guard let first = bytes.first else { return .needMore }
        if first == 0x16 { return inspectTLS(bytes) }
        if RequestHeadRules.isTokenByte(first) { return inspectHTTP(bytes) }
        if first == 0x0D || first == 0x0A { return inspectAfterEmptyLines(bytes) }
        return .other
    }
}
