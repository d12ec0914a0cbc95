#if canImport(Glibc)
    public import Glibc
#endif

/// Plain pthreads for blocking work (no Foundation: the static cordon-init links CordonOS).
public enum OSThread {
    /// A new thread running `work`; nil (after running it here) when no thread could be made.
    public static func start(_ work: @escaping @Sendable () -> Void) -> pthread_t? {
        let job = Unmanaged.passRetained(Job(work))
        var thread = pthread_t()
        guard pthread_create(&thread, nil, Job.run, job.toOpaque()) == 0 else {
            job.takeRetainedValue().work()
            return nil
        }
        return thread
    }

    /// A detached thread with a `stackSize`-byte stack running `work`; false (without running it)
    /// when none could be made.
    public static func detached(stackSize: Int, _ work: @escaping @Sendable () -> Void) -> Bool {
        let job = Unmanaged.passRetained(Job(work))
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, stackSize)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        var thread = pthread_t()
        guard pthread_create(&thread, &attributes, Job.run, job.toOpaque()) == 0 else {
            job.release()
            return false
        }
        return true
    }

    private final class Job: Sendable {
        let work: @Sendable () -> Void
        init(_ work: @escaping @Sendable () -> Void) { self.work = work }

        /// The thread's entry: takes the job's retained reference and runs it.
        static let run: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? = { context in
            guard let context else { return nil }
            Unmanaged<Job>.fromOpaque(context).takeRetainedValue().work()
            return nil
        }
    }
}
