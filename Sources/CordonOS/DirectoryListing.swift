public import CordonCore
import Glibc

/// The entries of a directory, "." and ".." left out, read whole: the callers walk trees through
/// descriptors (`fstatat`/`openat` on each name) without handling `DIR` streams themselves.
public enum DirectoryListing {
    /// The names in the directory `fd` is open on, as raw bytes (a name need not be UTF-8). `fd`
    /// stays the caller's (its offset is rewound). nil when it cannot be read.
    public static func names(ofDirectory fd: Int32) -> [[UInt8]]? {
        let own = dup(fd)
        guard own >= 0 else { return nil }
        _ = fcntl(own, F_SETFD, FD_CLOEXEC)
        guard let dir = fdopendir(own) else {
            close(own)
            return nil
        }
        defer { closedir(dir) }
        // A dup shares the offset: start at the beginning whatever the caller read before.
        rewinddir(dir)
        var names: [[UInt8]] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            names.append(name)
        }
        return names
    }

    /// The names in directory `path` (decoded as UTF-8, invalid bytes replaced), without
    /// following a symlink at `path` itself. nil when it is no directory or cannot be read.
    public static func names(at path: String) -> [String]? {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return names(ofDirectory: fd)?.map { String(decoding: $0, as: UTF8.self) }
    }

    /// The names in directory `path`, sorted for stable output (decoded as UTF-8, invalid bytes
    /// replaced). A symlink at `path` itself is followed: for trees the user names (`cordon scan
    /// PATH`, the host workspace), never for what the agent wrote. Throws what open says.
    public static func sortedNames(_ path: String) throws(CordonError) -> [String] {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError.current("list", path).cordonError() }
        defer { close(fd) }
        guard let names = names(ofDirectory: fd) else { throw SystemError.current("list", path).cordonError() }
        return names.map { String(decoding: $0, as: UTF8.self) }.sorted()
    }
}
