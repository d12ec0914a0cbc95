public import Testing

/// How long a test may hold a thread of Swift's cooperative pool in a blocking wait.
///
/// The pool is as wide as the machine has cores: two here and on CI. A test that waits on a pool
/// thread for a sandbox, a server or a long-running tool takes one of the two away from every
/// other suite (the in-process proxies, the DNS stubs, Swift Testing's own time limits); two such
/// waits at once stall the whole run, and a wait for work that itself needs the pool lasts until
/// its timeout. So a blocking wait called from a task must be bounded by `limit`, and anything
/// longer goes through the async forms, which wait on a thread of their own (`onOwnThread`).
public enum PoolHold {
    public static let limit: Duration = .seconds(10)

    /// Throws when the caller runs in a task (so on the pool) and would wait longer than `limit`.
    public static func check(_ timeout: Duration, _ what: @autoclosure () -> String, sourceLocation: SourceLocation) throws {
        guard timeout > limit, withUnsafeCurrentTask(body: { $0 != nil }) else { return }
        let refusal = TestSupportError(
            "\(what()) for up to \(timeout) would hold a cooperative-pool thread: use the async form (it waits on a thread of its own), or a timeout within \(limit)"
        )
        // Recorded as well as thrown: a `try?` at the call site must not hide it.
        Issue.record(refusal, sourceLocation: sourceLocation)
        throw refusal
    }
}
