#if canImport(Glibc)
    import Glibc
#endif

/// An flock(2) on a file, held while this value lives: released when it is dropped (its descriptor
/// closes) or handed on with `take()`. Locks belong to the open file, so a second `FileLock` on the
/// same path waits (or is refused) even in the same process.
public struct FileLock: ~Copyable, Sendable {
    public enum Mode: Sendable { case shared, exclusive }

    public let path: String
    private let descriptor: FileDescriptor

    private init(path: String, descriptor: consuming FileDescriptor) {
        self.path = path
        self.descriptor = descriptor
    }

    /// Waits for the lock on `path` (created 0600 when missing).
    public static func acquire(_ path: String, _ mode: Mode = .exclusive) throws(SystemError) -> FileLock {
        let fd = try FileDescriptor.open(path, O_RDWR | O_CREAT, mode: 0o600)
        while flock(fd.raw, mode.operation) != 0 {
            guard errno == EINTR else { throw SystemError.current("lock", path) }
        }
        return FileLock(path: path, descriptor: fd)
    }

    /// The lock on `path` if no one else holds a conflicting one now; nil when someone does.
    public static func attempt(_ path: String, _ mode: Mode = .exclusive) throws(SystemError) -> FileLock? {
        let fd = try FileDescriptor.open(path, O_RDWR | O_CREAT, mode: 0o600)
        if flock(fd.raw, mode.operation | LOCK_NB) == 0 { return FileLock(path: path, descriptor: fd) }
        guard errno == EWOULDBLOCK else { throw SystemError.current("lock", path) }
        return nil
    }

    /// Whether someone holds an exclusive lock on `path` now (false when the file is missing).
    public static func isHeld(_ path: String) -> Bool {
        guard let fd = try? FileDescriptor.open(path, O_RDONLY) else { return false }
        return flock(fd.raw, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK
    }

    /// The locked descriptor, for an owner that keeps the lock by keeping it open.
    public consuming func take() -> FileDescriptor {
        descriptor
    }
}

extension FileLock.Mode {
    var operation: Int32 { self == .shared ? LOCK_SH : LOCK_EX }
}
