public import CordonCore
import CordonOS

#if canImport(Glibc)
    public import Glibc
#endif

/// Files only their owner may read: the CA's key and the directory it lives in. Nothing here
/// follows a symlink, and a file or directory that is not the caller's, or that others could
/// read or write, is refused with the command that fixes it. (Also `cordon mcp --http`'s token.)
public enum PrivateFiles {
    /// Makes `directory` (0700) if missing; refuses one that is a symlink, not the caller's, or
    /// writable or readable by others.
    public static func prepareDirectory(_ directory: String) throws(CordonError) {
        do throws(SystemError) { try FileIO.makeDirectories(directory, mode: 0o700) } catch {
            throw error.cordonError(.io, "cannot make \(directory)")
        }
        var st = stat()
        guard lstat(directory, &st) == 0 else { throw CordonError(.io, "cannot read \(directory)", cause: String(cString: strerror(errno))) }
        guard st.st_mode & S_IFMT == S_IFDIR else {
            throw CordonError(.invalidArgument, "\(directory) is not a directory (a symlink is not followed)", hint: "remove it; cordon makes it again")
        }
        guard st.st_uid == geteuid() else {
            throw CordonError(.invalidArgument, "\(directory) belongs to uid \(st.st_uid), not to you", hint: "remove it; cordon makes it again")
        }
        if st.st_mode & 0o077 != 0 {
            throw CordonError(.invalidArgument, "\(directory) can be read or written by others", hint: "run `chmod 700 \(directory)`")
        }
    }

    /// The bytes of `path`, nil when it does not exist. Refused when it is a symlink, not a regular
    /// file, not the caller's, or readable by group or others.
    public static func readOwnerOnly(_ path: String) throws(CordonError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw CordonError(.io, "cannot open \(path) (a symlink is not followed)", cause: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            throw CordonError(.invalidArgument, "\(path) is not a regular file", hint: "remove it; cordon makes a new one")
        }
        guard st.st_uid == geteuid() else {
            throw CordonError(.invalidArgument, "\(path) belongs to uid \(st.st_uid), not to you", hint: "remove it; cordon makes a new one")
        }
        guard st.st_mode & 0o077 == 0 else {
            throw CordonError(.invalidArgument, "\(path) can be read by others", hint: "run `chmod 600 \(path)`")
        }
        do throws(SystemError) { return try FileIO.readAll(fd: fd, limit: 64 * 1024) } catch { throw error.cordonError(.io) }
    }

    /// Writes `path` atomically with `mode` (made with that mode, so a key is never readable by
    /// others even for a moment).
    public static func write(_ path: String, _ bytes: [UInt8], mode: mode_t) throws(CordonError) {
        do throws(SystemError) { try FileIO.writeAtomically(path, bytes, mode: mode) } catch { throw error.cordonError(.io) }
    }

    /// Runs `body` holding an exclusive lock on `path` (waits for another cordon process).
    public static func withLock<T>(_ path: String, _ body: () throws(CordonError) -> T) throws(CordonError) -> T {
        let lock: FileLock
        do throws(SystemError) { lock = try FileLock.acquire(path) } catch { throw error.cordonError(.io) }
        let result = try body()
        _ = consume lock
        return result
    }
}
