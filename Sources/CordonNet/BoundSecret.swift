public import CordonCore
public import CordonPolicy
public import CordonSecrets

/// A secret as the proxy holds it for one sandbox: the placeholder the sandbox sees, the domains
/// whose requests get the real value, how the value goes in (`inject:`; nil: the usual auth
/// headers), and the value itself, in memory kept out of core dumps.
public final class BoundSecret: @unchecked Sendable {
    // @unchecked: every property is set once here and never changed; `value`'s bytes are only read.
    public let placeholder: String
    /// The keystore entry's name (shown in refusals; never the value).
    public let name: String
    /// The variable inside that holds the placeholder (AWS credentials are told apart by it).
    public let env: String
    public let domains: [DomainPattern]
    public let injection: SecretInjection?
    private let value: SecretBytes

    public init(placeholder: String, name: String, env: String, domains: [DomainPattern], injection: SecretInjection?, value: SecretBytes) {
        self.placeholder = placeholder.lowercased()
        self.name = name
        self.env = env
        self.domains = domains
        self.injection = injection
        self.value = value
    }

    /// Whether requests to `host` may carry the real value.
    public func isBound(to host: Host) -> Bool { domains.contains { $0.matchesName(host) } }

    /// The value as text, for a header or a query being built (the one place it leaves locked memory).
    func valueText() -> String { value.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }

    /// The value itself, for a signer that takes bytes.
    public func withValue<R>(_ body: (SecretBytes) throws(CordonError) -> R) throws(CordonError) -> R { try body(value) }
}
