public import CordonCore
import CordonOS

/// The files of a sandbox brought `up` (`cordon up`, `exec`, `down`, `start`, `logs`).
extension SandboxLayout {
    /// Where the detached supervisor serves `cordon exec` and `cordon down` while it runs.
    public var execSocket: String { directory + "/exec.sock" }
    /// The detached supervisor's stdout and stderr.
    public var supervisorLog: String { directory + "/supervisor.log" }
    /// How the sandbox was brought up: what `cordon start` runs again (`UpRecord`).
    public var upRecord: String { directory + "/up.json" }
}

/// The sandbox's locks taken without waiting, for commands that act on a stopped sandbox.
extension SandboxLayout {
    /// Takes the sandbox's lock shared when no supervisor holds it: while the returned descriptor is
    /// open, no `cordon run` can start the sandbox and write its upper layer. nil when it is running.
    public func holdStopped() throws(CordonError) -> Int32? {
        try Self.lockNow(lock, exclusive: false)
    }

    /// `path`'s lock (the sandbox's `lock` or `syncLock`) taken now, as the descriptor that holds
    /// it; nil when someone holds it. A missing file is made: the lock of a sandbox whose first
    /// run never got that far.
    public static func lockNow(_ path: String, exclusive: Bool) throws(CordonError) -> Int32? {
        do throws(SystemError) {
            guard let held = try FileLock.attempt(path, exclusive ? .exclusive : .shared) else { return nil }
            return held.take().take()
        } catch { throw error.cordonError(.io) }
    }
}
