import CCordon

#if canImport(Glibc)
    import Glibc
#endif

/// The egress proxy's in-kernel tunnel relay: splice(2) between two sockets through a pipe, and
/// the socket cookies that find a channel's descriptor. Thin on purpose: `move` is the relay's
/// hot loop, one call per chunk, and returns the kernel's answer as it is.
public enum Splice {
    /// A pipe (non-blocking, close-on-exec) grown to `size` bytes where the kernel allows; nil
    /// when none can be made.
    public static func pipe(size: Int) -> (read: Int32, write: Int32, capacity: Int)? {
        var fds: [Int32] = [-1, -1]
        var capacity: Int32 = 0
        guard ccordon_relay_pipe(&fds, Int32(size), &capacity) == 0 else { return nil }
        return (fds[0], fds[1], Int(capacity))
    }

    /// splice(2) of up to `length` bytes from `source` to `sink` (one of them a pipe): the count
    /// moved, 0 at the end of the source, or -errno.
    @inline(__always)
    public static func move(from source: Int32, to sink: Int32, length: Int) -> Int {
        ccordon_relay_splice_blocking(source, sink, length)
    }
}

/// SO_COOKIE: a socket's number, unique for its life and the same through every descriptor of it.
public enum SocketCookie {
    /// The cookie of `fd`, or 0 when it is not a socket.
    public static func of(_ fd: Int32) -> UInt64 { ccordon_socket_cookie(fd) }

    /// SO_COOKIE's option number (SOL_SOCKET level), for getsockopt through other APIs.
    public static let option: Int32 = ccordon_socket_cookie_option()

    /// Close-on-exec duplicates of this process's descriptors whose sockets have these cookies
    /// (in that order), each checked against its cookie after duplication (a descriptor number
    /// may be closed and reused by another thread while the list is read); nil unless all are
    /// found. The caller owns and closes them.
    public static func duplicates(of cookies: [UInt64]) -> [Int32]? {
        guard !cookies.contains(0), let directory = opendir("/proc/self/fd") else { return nil }
        defer { closedir(directory) }
        var found = [Int32?](repeating: nil, count: cookies.count)
        while found.contains(nil), let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let fd = Int32(name), fd > 2 else { continue }
            let cookie = of(fd)
            guard cookie != 0, let index = cookies.firstIndex(of: cookie), found[index] == nil else { continue }
            let copy = fcntl(fd, F_DUPFD_CLOEXEC, 3)
            guard copy >= 0 else { continue }
            if of(copy) == cookie {
                found[index] = copy
            } else {
                close(copy)
            }
        }
        let all = found.compactMap { $0 }
        guard all.count == cookies.count else {
            for fd in all { close(fd) }
            return nil
        }
        return all
    }
}
