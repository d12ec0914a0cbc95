#if canImport(Glibc)
    public import Glibc
#endif

/// Plain pthreads for blocking work (no Foundation: the static cordon-init links CordonOS).
public enum OSThread {
    /// A new thread running `work`; nil (after running it here) when no thread could be made.
    public static func start(_ work: @escaping @Sendable () -> Void) -> pthread_t? {
        let job = Unmanaged.passRetained(Job(work))
        var thread = pthread_t()
        let rc = pthread_create(
            &thread, nil,
            { context in
                guard let context else { return nil }
                Unmanaged<Job>.fromOpaque(context).takeRetainedValue().work()
                return nil
            }, job.toOpaque())
        guard rc == 0 else {
            job.takeRetainedValue().work()
            return nil
        }
        return thread
    }

    private final class Job: Sendable {
        let work: @Sendable () -> Void
        init(_ work: @escaping @Sendable () -> Void) { self.work = work }
    }
}
