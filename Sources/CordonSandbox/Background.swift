import CordonCore
import CordonOS
import Glibc
import Synchronization

/// Blocking work (a write and its fsync, the proxy's start) on its own POSIX thread while the
/// supervisor's thread goes on releasing the sandbox. Plain threads, not Dispatch queues: the
/// supervisor's resident size pays for every worker pool and code path it wakes.
final class Background: Sendable {
    private let thread: pthread_t?
    private let failure: Failure

    private final class Failure: Sendable {
        let error = Mutex<CordonError?>(nil)
        let joined = Mutex<Bool>(false)
    }

    init(_ work: @escaping @Sendable () throws(CordonError) -> Void) {
        let failure = Failure()
        self.failure = failure
        self.thread = OSThread.start {
            do throws(CordonError) { try work() } catch { failure.error.withLock { $0 = error } }
        }
    }

    /// Nothing to wait for: `wait` returns at once.
    private init() {
        thread = nil
        failure = Failure()
    }

    static func none() -> Background { Background() }

    /// Waits for the work (later calls return at once) and throws what it threw.
    func wait() throws(CordonError) {
        let first = failure.joined.withLock { joined in
            defer { joined = true }
            return !joined
        }
        if first, let thread { pthread_join(thread, nil) }
        if let error = failure.error.withLock({ $0 }) { throw error }
    }

    /// Runs `work` on a thread nobody waits for (it may be cut short when cordon exits).
    static func detached(_ work: @escaping @Sendable () -> Void) {
        if let thread = OSThread.start(work) { pthread_detach(thread) }
    }
}
