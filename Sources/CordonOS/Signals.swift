import CCordon
public import CordonCore
import Glibc

/// Signals the supervisor catches as bytes on a pipe (for its poll loop) instead of by handlers
/// that run Swift code.
public enum SignalPipe {
    /// Installs handlers for `signals` that write each signal's number as one byte to a pipe, and
    /// unblocks them. Returns the pipe's read end (non-blocking, close-on-exec).
    public static func install(_ signals: [Int32]) throws(CordonError) -> Int32 {
        let fd = signals.withUnsafeBufferPointer { ccordon_signal_pipe($0.baseAddress, Int32($0.count)) }
        if fd < 0 { throw CordonError(.systemCall, "cannot catch signals \(signals)", cause: String(cString: strerror(-fd))) }
        return fd
    }

    /// Puts back the default disposition of `signals`.
    public static func reset(_ signals: [Int32]) {
        signals.withUnsafeBufferPointer { ccordon_signal_pipe_reset($0.baseAddress, Int32($0.count)) }
    }
}

/// A process by its pidfd: signals reach the process it was opened for, never a later one that
/// reused its pid.
public enum ProcessDescriptor {
    /// A pidfd (close-on-exec) for `pid`.
    public static func open(pid: Int32) throws(CordonError) -> Int32 {
        let fd = ccordon_pidfd_open(pid)
        if fd < 0 { throw CordonError(.systemCall, "cannot open process \(pid) (pidfd_open)", cause: String(cString: strerror(-fd))) }
        return fd
    }

    /// Sends `signal` to the process behind `pidfd`.
    public static func signal(_ pidfd: Int32, _ signal: Int32) throws(CordonError) {
        let rc = ccordon_pidfd_send_signal(pidfd, signal)
        if rc < 0 { throw CordonError(.systemCall, "cannot send signal \(signal) (pidfd \(pidfd))", cause: String(cString: strerror(-rc))) }
    }
}

/// Signals read from a descriptor (signalfd) instead of delivered: cordon-init polls them beside
/// its exec channel.
public enum SignalDescriptor {
    /// Blocks `signals` and returns a signalfd for them (close-on-exec, non-blocking).
    public static func open(_ signals: [Int32]) throws(SystemError) -> Int32 {
        let fd = signals.withUnsafeBufferPointer { ccordon_signalfd($0.baseAddress, Int32($0.count)) }
        if fd < 0 { throw SystemError("watch signals", "(signalfd)", errno: -fd) }
        return fd
    }

    /// The next pending signal, nil when none is.
    public static func next(_ fd: Int32) -> Int32? {
        let sig = ccordon_signalfd_next(fd)
        return sig > 0 ? sig : nil
    }
}
