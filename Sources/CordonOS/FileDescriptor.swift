import CCordon

#if canImport(Glibc)
    public import Glibc
#endif

/// An open file descriptor with one owner: it is closed exactly once, when its owner lets go of it
/// (`deinit`), unless it was handed on first (`take()` gives the raw number to a caller that closes
/// it, `close()` closes it now and reports the error). Borrowing code reads `raw` for a system call.
public struct FileDescriptor: ~Copyable, Sendable {
    public let raw: Int32

    /// Takes ownership of `raw` (an open descriptor nobody else closes).
    public init(adopting raw: Int32) {
        self.raw = raw
    }

    deinit {
        _ = Glibc.close(raw)
    }

    /// Hands the raw descriptor to a caller that closes it (another owner, a C call that adopts it).
    public consuming func take() -> Int32 {
        let raw = self.raw
        discard self
        return raw
    }

    /// Closes now; an error is reported (deferred writeback errors show up here) and the
    /// descriptor is gone either way (Linux frees it even when close fails).
    public consuming func close() throws(SystemError) {
        let raw = take()
        guard Glibc.close(raw) == 0 || Glibc.errno == EINTR else { throw SystemError.current("close", "descriptor \(raw)") }
    }

    /// open(2) with O_CLOEXEC added.
    public static func open(_ path: String, _ flags: Int32, mode: UInt32 = 0) throws(SystemError) -> FileDescriptor {
        let fd = Glibc.open(path, flags | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else { throw SystemError.current("open", path) }
        return FileDescriptor(adopting: fd)
    }

    /// openat(2) relative to this directory, with O_CLOEXEC added.
    public borrowing func openAt(_ name: String, _ flags: Int32, mode: UInt32 = 0) throws(SystemError) -> FileDescriptor {
        let fd = Glibc.openat(raw, name, flags | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else { throw SystemError.current("open", name) }
        return FileDescriptor(adopting: fd)
    }

    /// A second descriptor (close-on-exec) for the same open file.
    public borrowing func duplicate(_ what: String = "a descriptor") throws(SystemError) -> FileDescriptor {
        try Self.duplicate(raw, what)
    }

    /// A new owned descriptor (close-on-exec, never 0-2) for the open file `raw`, which someone
    /// else owns.
    public static func duplicate(_ raw: Int32, _ what: String = "a descriptor") throws(SystemError) -> FileDescriptor {
        let fd = fcntl(raw, F_DUPFD_CLOEXEC, 3)
        guard fd >= 0 else { throw SystemError.current("duplicate", what) }
        return FileDescriptor(adopting: fd)
    }

    /// Two descriptors made together (a pipe's ends, a socket pair): take each with
    /// `let a = pair.first` (the pair is consumed part by part).
    @frozen
    public struct Pair: ~Copyable, Sendable {
        public var first: FileDescriptor
        public var second: FileDescriptor
    }

    /// A pipe's read end (`first`) and write end (`second`), both close-on-exec.
    public static func pipe() throws(SystemError) -> Pair {
        var fds: [Int32] = [-1, -1]
        try check("create", "a pipe", ccordon_pipe_cloexec(&fds))
        return Pair(first: FileDescriptor(adopting: fds[0]), second: FileDescriptor(adopting: fds[1]))
    }

    /// fstat(2).
    public borrowing func status(_ what: String = "a descriptor") throws(SystemError) -> stat {
        var st = stat()
        guard fstat(raw, &st) == 0 else { throw SystemError.current("stat", what) }
        return st
    }

    /// Whether `raw` names an open descriptor in this process (for tests and assertions).
    public static func isOpen(_ raw: Int32) -> Bool {
        fcntl(raw, F_GETFD) >= 0
    }
}

extension FileDescriptor {
    /// A close-on-exec unix socket pair: sockets, not pipes, so a write to a peer that is gone
    /// fails with EPIPE instead of raising SIGPIPE.
    public static func socketPair(_ type: __socket_type) throws(SystemError) -> Pair {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(type.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw SystemError.current("create", "a socket pair")
        }
        return Pair(first: FileDescriptor(adopting: pair[0]), second: FileDescriptor(adopting: pair[1]))
    }
}

extension FileDescriptor {
    /// Writes all of `bytes` (retrying short writes and EINTR).
    public borrowing func writeAll(_ bytes: [UInt8]) throws(SystemError) {
        try FileIO.writeAll(fd: raw, bytes)
    }

    /// One read of at most `count` bytes (EINTR retried); empty at the end of the stream.
    public borrowing func read(upTo count: Int) throws(SystemError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: max(count, 1))
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(raw, $0.baseAddress, $0.count) }
            if n >= 0 { return Array(buffer.prefix(n)) }
            guard errno == EINTR else { throw SystemError.current("read") }
        }
    }

    /// Everything up to the end of the stream, at most `limit` bytes.
    public borrowing func readAll(limit: Int = 64 * 1024 * 1024) throws(SystemError) -> [UInt8] {
        try FileIO.readAll(fd: raw, limit: limit)
    }

    /// SO_RCVTIMEO: a read on this socket fails with EAGAIN after `seconds` without data.
    public borrowing func setReceiveTimeout(seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        _ = setsockopt(raw, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }
}
