#if canImport(Glibc)
    public import Glibc
#endif

/// Small file helpers over raw descriptors, usable in cordon-init where Foundation is not loaded.
public enum FileIO {
    public static func readAll(fd: Int32, limit: Int = 64 * 1024 * 1024) throws(SystemError) -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while result.count < limit {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError.current("read")
            }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<n])
        }
        return result
    }

    public static func readFile(_ path: String, limit: Int = 64 * 1024 * 1024) throws(SystemError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError.current("open", path) }
        defer { close(fd) }
        return try readAll(fd: fd, limit: limit)
    }

    public static func writeAll(fd: Int32, _ bytes: [UInt8]) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError.current("write")
            }
            offset += n
        }
    }

    public static func writeFile(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644, flags: Int32 = O_TRUNC) throws(SystemError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | flags, mode)
        guard fd >= 0 else { throw SystemError.current("open", path) }
        defer { close(fd) }
        try writeAll(fd: fd, bytes)
    }

    /// Writes `bytes` over the start of `path` (made if missing, no symlink followed) and cuts
    /// off what was longer, without truncating it first: ext4 starts writing back a file that was
    /// truncated and rewritten as soon as it is closed (`auto_da_alloc`), which a small state file
    /// rewritten at every start need not pay. Not atomic: for files a crash may leave torn.
    public static func overwrite(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws(SystemError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { throw SystemError.current("open", path) }
        defer { close(fd) }
        try writeAll(fd: fd, bytes)
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SystemError.current("fstat", path) }
        if st.st_size > bytes.count, ftruncate(fd, off_t(bytes.count)) != 0 { throw SystemError.current("ftruncate", path) }
    }

    public static func writeFile(_ path: String, _ text: String, mode: mode_t = 0o644) throws(SystemError) {
        try writeFile(path, Array(text.utf8), mode: mode)
    }

    /// Writes `bytes` unless `path` already holds exactly them: rewriting a file frees its
    /// blocks, which costs a synchronous discard on filesystems mounted with `discard`.
    public static func writeFileIfChanged(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws(SystemError) {
        if kind(path, followSymlinks: false) == .file, let current = try? readFile(path, limit: bytes.count + 1), current == bytes {
            return
        }
        try writeFile(path, bytes, mode: mode)
    }

    /// Writes a temporary file next to `path`, fsyncs it and renames it over `path` (creating the
    /// parent directories): readers see the old file or the new one, never a partial one.
    /// `durable: false` leaves out the fsync before the rename (the caller syncs the file later,
    /// `syncFile`): a crash before then may leave the file empty, never half-written.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644, durable: Bool = true) throws(SystemError) {
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex { try makeDirectories(String(path[..<slash])) }
        let temporary = path + ".tmp.\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { throw SystemError.current("open", temporary) }
        do throws(SystemError) {
            try writeAll(fd: fd, bytes)
            guard !durable || fsync(fd) == 0 else { throw SystemError.current("fsync", temporary) }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let error = SystemError.current("rename", path)
            unlink(temporary)
            throw error
        }
    }

    /// Flushes a written file to its disk.
    public static func syncFile(_ path: String) throws(SystemError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw SystemError.current("open", path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw SystemError.current("fsync", path) }
    }

    /// mkdir -p; existing directories are fine. Tries the leaf first and walks up only while a
    /// parent is missing (most are there: one call instead of one per component).
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
        if mkdir(path, mode) == 0 || errno == EEXIST { return }
        guard errno == ENOENT, let slash = path.lastIndex(of: "/"), slash != path.startIndex else {
            throw SystemError.current("mkdir", path)
        }
        try makeDirectories(String(path[..<slash]), mode: mode)
        if mkdir(path, mode) != 0 && errno != EEXIST { throw SystemError.current("mkdir", path) }
    }

    public enum Kind: Sendable, Equatable { case missing, file, directory, symlink, other }

    public static func kind(_ path: String, followSymlinks: Bool = true) -> Kind {
        var st = stat()
        let rc = followSymlinks ? stat(path, &st) : lstat(path, &st)
        guard rc == 0 else { return .missing }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return .file
        case S_IFDIR: return .directory
        case S_IFLNK: return .symlink
        default: return .other
        }
    }

    public static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4097)
        let n = readlink(path, &buffer, 4096)
        guard n >= 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
