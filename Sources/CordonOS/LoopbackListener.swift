import CCordon

/// The host side of `cordon port`: what a loopback listener needs beyond `CaptureNetwork.listenLoopback`.
public enum LoopbackListener {
    /// The port a bound socket has (the one the kernel chose for port 0).
    public static func localPort(_ fd: Int32) throws(SystemError) -> UInt16 {
        let port = ccordon_local_port(fd)
        guard port >= 0 else { throw SystemError("getsockname", nil, returned: port) }
        return UInt16(truncatingIfNeeded: port)
    }

    /// A stream socket listening on [::1]:`port` (IPv6 only).
    public static func listenIPv6(port: UInt16, backlog: Int32) throws(SystemError) -> FileDescriptor {
        let fd = ccordon_listen_loopback6(port, backlog)
        guard fd >= 0 else { throw SystemError("listen on", "[::1]:\(port)", returned: fd) }
        return FileDescriptor(adopting: fd)
    }

    /// A connection accepted on `listener` (close-on-exec); nil when none waits (a non-blocking
    /// listener) or it failed.
    public static func accept(_ listener: Int32) -> Int32? {
        let fd = ccordon_accept(listener)
        return fd >= 0 ? fd : nil
    }
}
