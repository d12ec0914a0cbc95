import CCordon

/// pidfds: a process named by a descriptor, so a signal never reaches a recycled pid.
public enum ProcessDescriptor {
    /// pidfd_open(2) (close-on-exec).
    public static func open(_ pid: Int32) throws(SystemError) -> FileDescriptor {
        let fd = ccordon_pidfd_open(pid)
        guard fd >= 0 else { throw SystemError("open a pidfd for", "process \(pid)", returned: fd) }
        return FileDescriptor(adopting: fd)
    }

    /// pidfd_send_signal(2) to the process behind `pidfd`.
    public static func signal(_ pidfd: Int32, _ signal: Int32) throws(SystemError) {
        try check("signal", "the process behind pidfd \(pidfd)", ccordon_pidfd_send_signal(pidfd, signal))
    }
}
