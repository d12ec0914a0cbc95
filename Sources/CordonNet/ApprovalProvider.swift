/// The answer to "may this sandbox reach host:port?" when `prompt` is on.
public enum ApprovalAnswer: Sendable, Equatable {
    case allowOnce
    /// The provider persists it (the profile's approval file); the proxy remembers it for this run.
    case allowAlways
    case deny
}

/// Asks a human (terminal, `cordon approvals`) about an unlisted host. Implementations should
/// answer `.deny` on their own timeout; the proxy also applies one.
public protocol ApprovalProvider: Sendable {
    func decide(host: String, port: Int) async -> ApprovalAnswer
    /// An answer given ahead of any request (`cordon allow NAME DOMAIN` for a host the agent
    /// has not tried yet); consulted for unlisted hosts even when `prompt` is off.
    func preApproved(host: String, port: Int) -> ApprovalAnswer?
}

extension ApprovalProvider {
    public func preApproved(host: String, port: Int) -> ApprovalAnswer? { nil }
}
