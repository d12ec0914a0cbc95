import CCordon
public import CordonCore
import Glibc

/// What a tree takes on disk, what the file system holding a path has left, and flushing it:
/// the disk watch's and the overlay layers' calls.
public enum FileSystemUsage {
    /// Space and entries a tree takes.
    public struct Measured: Sendable, Equatable {
        public var bytes: UInt64
        public var inodes: UInt64
        /// Why part of the tree could not be measured (nested deeper than `maxDepth`, or a
        /// directory its owner cannot read): the caller counts it as over any limit.
        public var unmeasured: String?

        public init(bytes: UInt64 = 0, inodes: UInt64 = 0, unmeasured: String? = nil) {
            self.bytes = bytes
            self.inodes = inodes
            self.unmeasured = unmeasured
        }
    }

    /// Free space for an unprivileged user of the file system holding `path`.
    public struct Free: Sendable, Equatable {
        public var bytes: UInt64
        /// nil on file systems without a fixed inode table (btrfs reports 0 files).
        public var inodes: UInt64?
    }

    /// What is free on the file system holding `path`.
    public static func free(at path: String) throws(CordonError) -> Free {
        var fs = statvfs()
        guard statvfs(path, &fs) == 0 else { throw failure("cannot read the free space of", path, errno) }
        return Free(bytes: UInt64(fs.f_bavail) * UInt64(fs.f_frsize), inodes: fs.f_files > 0 ? UInt64(fs.f_favail) : nil)
    }

    /// syncfs(2): flushes the whole file system holding directory `path` and waits.
    public static func flushFileSystem(of path: String) throws(CordonError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("cannot open", path, errno) }
        defer { close(fd) }
        guard ccordon_syncfs(fd) == 0 else { throw failure("cannot flush the file system of", path, errno) }
    }

    /// Allocated bytes (st_blocks, so sparse files cost what they hold) and entries beneath the
    /// directories, each upper's own directory included. Follows no symlink, never leaves the tree
    /// (each directory opened with O_NOFOLLOW beneath its parent's descriptor); a hard-linked file
    /// counts once.
    public static func measure(_ directories: [String], maxDepth: Int) -> Measured {
        var usage = Measured()
        var seen: Set<UInt64> = []
        for directory in directories {
            let fd = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { continue }
            var st = stat()
            if fstat(fd, &st) == 0 { add(st, to: &usage, seen: &seen) }
            walk(directoryFD: fd, depth: 1, maxDepth: maxDepth, usage: &usage, seen: &seen)
        }
        return usage
    }

    /// The regular files that processes of `initPID`'s PID namespace hold open after deleting
    /// them beneath `sandboxPaths` (paths inside it): an overlay upper's entry is gone, its
    /// blocks are not.
    public static func openDeleted(inNamespaceOf initPID: Int32, beneath sandboxPaths: [String]) -> Measured {
        var usage = Measured()
        var seen: Set<UInt64> = []
        // The overlays' devices as the sandbox sees them: a held file is theirs whatever path the
        // kernel prints for it (from the host, a file of another mount namespace's tree may show
        // relative to its mount, not as /workspace/…).
        var devices = Set<UInt64>()
        for path in sandboxPaths {
            var st = stat()
            if stat("/proc/\(initPID)/root" + path, &st) == 0 { devices.insert(UInt64(st.st_dev)) }
        }
        // Descriptors, and memory mappings (map_files: followed only with CAP_CHECKPOINT_RESTORE,
        // so when cordon runs as root; rootless, a file kept only as a mapping is not seen).
        for pid in NamespaceStopper.processes(inNamespaceOf: initPID) {
            for kind in ["fd", "map_files"] {
                let fdDirectory = "/proc/\(pid)/\(kind)"
                guard let dir = opendir(fdDirectory) else { continue }
                defer { closedir(dir) }
                while let entry = readdir(dir) {
                    let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                    guard name.first != "." else { continue }
                    let path = fdDirectory + "/" + name
                    var buffer = [CChar](repeating: 0, count: 4096)
                    let n = readlink(path, &buffer, buffer.count)
                    guard n > 0 else { continue }
                    let target = buffer[0..<n].map { UInt8(bitPattern: $0) }
                    let suffix = Array(" (deleted)".utf8)
                    guard target.count > suffix.count, Array(target.suffix(suffix.count)) == suffix else { continue }
                    var inside = false
                    for prefix in sandboxPaths {
                        let p = Array(prefix.utf8)
                        if target.starts(with: p) && target.count > p.count && target[p.count] == UInt8(ascii: "/") { inside = true }
                    }
                    var st = stat()
                    guard stat(path, &st) == 0, inside || devices.contains(UInt64(st.st_dev)), st.st_mode & S_IFMT == S_IFREG, st.st_nlink == 0,
                        seen.insert(UInt64(st.st_ino)).inserted
                    else { continue }
                    usage.bytes &+= UInt64(max(0, st.st_blocks)) * 512
                    usage.inodes &+= 1
                }
            }
        }
        return usage
    }

    private static func add(_ st: stat, to usage: inout Measured, seen: inout Set<UInt64>) {
        if st.st_mode & S_IFMT != S_IFDIR && st.st_nlink > 1 {
            guard seen.insert(UInt64(st.st_ino)).inserted else { return }
        }
        usage.bytes &+= UInt64(max(0, st.st_blocks)) * 512
        usage.inodes &+= 1
    }

    /// Takes ownership of `fd`.
    private static func walk(directoryFD fd: Int32, depth: Int, maxDepth: Int, usage: inout Measured, seen: inout Set<UInt64>) {
        guard let dir = fdopendir(fd) else {
            close(fd)
            return
        }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let isDot = withUnsafeBytes(of: entry.pointee.d_name) { name in
                name[0] == UInt8(ascii: ".") && (name[1] == 0 || name[1] == UInt8(ascii: ".") && name[2] == 0)
            }
            if isDot { continue }
            // The name's raw bytes: a name that is not UTF-8 is measured like any other.
            var st = stat()
            let found = withUnsafePointer(to: &entry.pointee.d_name) {
                fstatat(fd, UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self), &st, AT_SYMLINK_NOFOLLOW) == 0
            }
            guard found else {
                if errno == EACCES { usage.unmeasured = "a directory cordon cannot read (its mode denies its owner)" }
                continue
            }
            add(st, to: &usage, seen: &seen)
            guard st.st_mode & S_IFMT == S_IFDIR else { continue }
            if depth >= maxDepth {
                usage.unmeasured = "directories nested deeper than \(maxDepth) levels"
                continue
            }
            let child = withUnsafePointer(to: &entry.pointee.d_name) {
                openat(fd, UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            if child >= 0 {
                walk(directoryFD: child, depth: depth + 1, maxDepth: maxDepth, usage: &usage, seen: &seen)
            } else if errno == EACCES {
                usage.unmeasured = "a directory cordon cannot read (its mode denies its owner)"
            }
        }
    }

    private static func failure(_ what: String, _ path: String, _ code: Int32) -> CordonError {
        CordonError(.systemCall, "\(what) \(path)", cause: String(cString: strerror(code)))
    }
}
