public import CordonCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Runs independent blocking system calls on several threads.
///
/// For file creation and removal, not computation: on ext4 without a journal, creating an inode
/// scans past recently freed ones, and with `-o discard` every freed file waits for the device, so
/// one thread leaves the CPUs and the device queue idle. The work must share nothing but what each
/// index reads.
public enum ParallelWork {
    /// Threads for calls that mostly wait (unlink, close of a freed file).
    public static let ioWidth = 16
    /// Threads for file creation, which mostly runs in the kernel.
    public static let createWidth = 4

    /// Calls `body` for every index in `0..<count`, on up to `width` threads (the caller's among
    /// them), each taking a contiguous range: neighbouring items (files of one directory) stay on
    /// one thread, since the kernel serializes creations, renames and unlinks in a directory.
    /// Returns when all calls have returned.
    public static func forEach(_ count: Int, width: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let width = max(1, min(width, count))
        var threads: [pthread_t] = []
        for worker in 1..<width {
            let range = count * worker / width..<count * (worker + 1) / width
            // Without a thread (a limit), `start` runs the range here.
            if let thread = OSThread.start({ range.forEach(body) }) { threads.append(thread) }
        }
        (0..<count / width).forEach(body)
        for thread in threads { pthread_join(thread, nil) }
    }

    /// Errors recorded by worker threads, by work index.
    public final class Failures: Sendable {
        private let state = Mutex<[(index: Int, error: CordonError)]>([])
        public init() {}

        public func record(_ index: Int, _ error: CordonError) {
            state.withLock { $0.append((index, error)) }
        }

        /// The error of the lowest index.
        public var first: CordonError? { state.withLock { $0.min { $0.index < $1.index }?.error } }
        public var indices: [Int] { state.withLock { $0.map(\.index).sorted() } }
    }

    /// Work indices marked by worker threads (for example, the files handled one way rather than another).
    public final class Marks: Sendable {
        private let state = Mutex<[Int]>([])
        public init() {}

        public func mark(_ index: Int) { state.withLock { $0.append(index) } }
        public var indices: [Int] { state.withLock { $0.sorted() } }
    }
}
