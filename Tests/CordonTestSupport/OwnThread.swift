import Foundation

/// Runs `body` on a thread of its own and returns its result.
///
/// Blocking or CPU-heavy test work must not run on Swift's cooperative pool, and on Linux
/// `DispatchQueue.global()` is no escape: the concurrency runtime enqueues its jobs on the same
/// Dispatch root queue, whose width is the core count. Two busy Dispatch blocks on a 2-core
/// machine hold back every task (the proxy's decisions, the DNS stub) until they finish.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(with: Result { try body() })
        }
    }
}
