import CCordon

#if canImport(Glibc)
    import Glibc
#endif

/// Another process's network namespace, held open (its descriptor and its owning user
/// namespace's), to make sockets in it from this process: `cordon port` connects to a sandbox's
/// own loopback this way. No thread of this process ever changes namespace (see
/// `ccordon_netns_stream_socket`).
public final class NetworkNamespace: Sendable {
    private let namespace: Int32
    private let owner: Int32

    /// The network namespace of process `pid` (`/proc/PID/ns/net`). Opened while the caller knows
    /// the process is `pid` (its parent, before reaping it), so a reused pid cannot substitute
    /// another namespace; it stays valid as long as this object lives.
    public init(processID pid: Int32) throws(SystemError) {
        let path = "/proc/\(pid)/ns/net"
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError.current("open", path) }
        namespace = fd
        // No owner to join (an older kernel, or a namespace owned outside ours): setns alone.
        let owner = ccordon_namespace_owner(fd)
        self.owner = owner >= 0 ? owner : -1
    }

    deinit {
        close(namespace)
        if owner >= 0 { close(owner) }
    }

    /// A TCP socket connected to 127.0.0.1:`port` inside the namespace, blocking, close-on-exec.
    /// Fails (ECONNREFUSED) when nothing listens there; ETIMEDOUT after `timeoutMilliseconds`.
    public func connectLoopback(port: UInt16, timeoutMilliseconds: Int32) throws(SystemError) -> FileDescriptor {
        let fd = ccordon_netns_stream_socket(namespace, owner)
        guard fd >= 0 else { throw SystemError("make a socket in", "the sandbox's network namespace", returned: fd) }
        let socket = FileDescriptor(adopting: fd)
        let rc = ccordon_connect_loopback(socket.raw, port, timeoutMilliseconds)
        guard rc == 0 else { throw SystemError("connect to", "127.0.0.1:\(port) in the sandbox", returned: rc) }
        return socket
    }
}
