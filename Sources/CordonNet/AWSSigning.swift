import CordonCore
public import CordonPolicy
public import CordonSecrets
import NIOHTTP1

/// The sandbox's AWS credentials as the proxy uses them: requests to `domains` signed by the
/// sandbox with its placeholder credentials are signed again with the real ones (`AWSSigV4`).
public struct AWSSigning: Sendable {
    public let credentials: AWSSigV4.Credentials
    public let keyIDPlaceholder: String
    public let sessionTokenPlaceholder: String?
    public let domains: [DomainPattern]

    public init(credentials: AWSSigV4.Credentials, keyIDPlaceholder: String, sessionTokenPlaceholder: String?, domains: [DomainPattern]) {
        self.credentials = credentials
        self.keyIDPlaceholder = keyIDPlaceholder
        self.sessionTokenPlaceholder = sessionTokenPlaceholder
        self.domains = domains
    }

    /// The most of a body buffered to hash it (a client that sends `x-amz-content-sha256` is
    /// signed without buffering).
    static let bodyLimit = 16 << 20

    func isBound(to host: Host) -> Bool { domains.contains { $0.matchesName(host) } }

    /// Whether `head` is to be signed again: a SigV4 request to a bound host.
    func signs(_ head: HTTPRequestHead, host: Host) -> Bool {
        isBound(to: host) && (head.headers["authorization"].first.map { $0.hasPrefix(AWSSigV4.algorithm + " ") } ?? false)
    }

    /// Whether the body must be read whole before signing (no `x-amz-content-sha256`).
    static func needsBody(_ head: HTTPRequestHead) -> Bool { !head.headers.contains(name: "x-amz-content-sha256") }

    /// `head` signed with the real credentials.
    func resign(_ head: HTTPRequestHead, body: [UInt8]?) throws(CordonError) -> HTTPRequestHead {
        let headers = try AWSSigV4.resign(
            method: head.method.rawValue, target: head.uri, headers: head.headers.map { (name: $0.name, value: $0.value) }, body: body,
            credentials: credentials, placeholders: (keyIDPlaceholder, sessionTokenPlaceholder))
        var signed = head
        signed.headers = HTTPHeaders(headers.map { ($0.name, $0.value) })
        return signed
    }
}
