public import Testing

#if canImport(Glibc)
    import Glibc
#endif

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

    /// Records an issue against the running test (or, outside one, says so on stderr) when the
    /// caller runs in a task, so on the pool, and would wait longer than `limit`. The wait itself
    /// goes ahead: refusing it would turn a `try?` at the call site (a probe, a clean-up) into a
    /// silent change of what the test does.
    public static func check(_ timeout: Duration, _ what: @autoclosure () -> String, sourceLocation: SourceLocation) {
        guard timeout > limit, withUnsafeCurrentTask(body: { $0 != nil }) else { return }
        let message =
            "\(what()) for up to \(timeout) holds a cooperative-pool thread: use the async form (it waits on a thread of its own), or a timeout within \(limit)"
        if Test.current != nil {
            Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
        } else {
            let line = "PoolHold: \(message) (\(sourceLocation))\n"
            _ = line.withCString { write(2, $0, strlen($0)) }
        }
    }
}
