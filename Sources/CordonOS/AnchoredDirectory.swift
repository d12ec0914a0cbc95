public import CordonCore

#if canImport(Glibc)
    public import Glibc
#endif

/// A directory tree reached only through file descriptors: every path is resolved beneath the root
/// with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, so a symlink (or `..`) planted anywhere in
/// the tree can never redirect an operation outside it. Final components are handled with the
/// `*at` calls, which act on a symlink itself rather than its target.
public final class AnchoredDirectory {
    public let root: String
    private let rootFD: Int32
    private var parents: [String: Int32] = [:]
    /// Files this tree replaced or removed, held by O_PATH descriptors (see `pin`).
    private var pinned: [Int32] = []
    /// Directory fds kept open at most; with `pinLimit` pinned files, well under the soft
    /// RLIMIT_NOFILE of 1024 that many systems set. Beyond, the cache starts over.
    public static let cacheLimit = 256
    public static let pinLimit = 384
    public static let resolve = FileSystem.resolveBeneathNoLinks

    public init(_ root: String) throws(CordonError) {
        self.root = root
        let fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw Self.error("open", root) }
        rootFD = fd
    }

    /// The device of the tree's root: two trees with the same one may rename between them
    /// (unless they are different mounts of it, which renameat answers with EXDEV).
    public var device: UInt64 {
        var st = stat()
        return fstat(rootFD, &st) == 0 ? UInt64(st.st_dev) : UInt64.max
    }

    deinit {
        for fd in parents.values { close(fd) }
        for fd in pinned { close(fd) }
        close(rootFD)
    }

    public static func error(_ op: String, _ path: String, _ code: Int32 = errno) -> CordonError {
        SystemError(op, path, errno: code).cordonError()
    }

    public static func split(_ rel: String) -> (parent: String, name: String) {
        guard let slash = rel.lastIndex(of: "/") else { return ("", rel) }
        return (String(rel[..<slash]), String(rel[rel.index(after: slash)...]))
    }

    /// The directory fd for `rel`'s parent, opened without following any symlink.
    public func parent(of rel: String) throws(CordonError) -> (fd: Int32, name: String) {
        let (dir, name) = Self.split(rel)
        return (try directory(dir), name)
    }

    public func directory(_ dir: String) throws(CordonError) -> Int32 {
        if dir.isEmpty { return rootFD }
        if let fd = parents[dir] { return fd }
        if parents.count >= Self.cacheLimit { dropCache() }
        let fd = FileSystem.openat2(rootFD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, resolve: Self.resolve)
        guard fd >= 0 else { throw Self.error("open directory", root + "/" + dir) }
        parents[dir] = fd
        return fd
    }

    /// Directory fds open now; a caller holding fds across calls drops the cache before the limit.
    public var cachedDirectories: Int { parents.count }

    /// Forgets cached directory fds (after directories were removed or replaced).
    public func dropCache() {
        for fd in parents.values { close(fd) }
        parents = [:]
    }

    /// Opens a file beneath the root for reading, refusing symlinks anywhere on the way: the parent
    /// comes from `directory` (openat2), the last component is opened with O_NOFOLLOW.
    public func openForReading(_ rel: String) throws(CordonError) -> Int32 {
        let (dir, name) = try parent(of: rel)
        let fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw Self.error("open", root + "/" + rel) }
        return fd
    }

    public func lstat(_ rel: String) -> stat? {
        guard let (fd, name) = try? parent(of: rel) else { return nil }
        var st = stat()
        return fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? st : nil
    }

    public func exists(_ rel: String) -> Bool { lstat(rel) != nil }

    /// Copies `source` (an fd) into a new file `rel` with `mode`, replacing a file or symlink left
    /// there (never a directory); fsyncs it when `durable` (a caller staging many files passes false
    /// and calls `syncFilesystem()` once).
    public func createFile(_ rel: String, from source: Int32, mode: UInt32, durable: Bool = true, limit: UInt64 = .max) throws(CordonError) {
        let (fd, name) = try parent(of: rel)
        if let failure = Self.writeFile(in: fd, name, from: source, mode: mode, durable: durable, limit: limit) {
            throw Self.error(failure.call, root + "/" + rel, failure.code)
        }
    }

    /// A failed call of the fd-only operations below, with its errno.
    public struct Failure: Sendable, Equatable {
        public var call: String
        public var code: Int32
    }

    /// `createFile` on an open directory: touches nothing of an `AnchoredDirectory`, so threads may
    /// call it at once. `name` must be a single component. `limit`: the most bytes copied (the
    /// source may be longer, or grow while it is read).
    public static func writeFile(in dir: Int32, _ name: String, from source: Int32, mode: UInt32, durable: Bool, limit: UInt64 = .max) -> Failure? {
        var out = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if out < 0 && errno == EEXIST {
            guard unlinkat(dir, name, 0) == 0 else { return Failure(call: "unlink", code: errno) }
            out = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        }
        guard out >= 0 else { return Failure(call: "create", code: errno) }
        defer { close(out) }
        let copied: Failure? = withUnsafeTemporaryAllocation(byteCount: 1 << 16, alignment: 16) { buffer in
            var remaining = limit
            while remaining > 0 {
                let n = Glibc.read(source, buffer.baseAddress, Int(min(UInt64(buffer.count), remaining)))
                if n < 0 {
                    if errno == EINTR { continue }
                    return Failure(call: "read the source of", code: errno)
                }
                if n == 0 { return nil }
                var written = 0
                while written < n {
                    let w = write(out, buffer.baseAddress.map { $0 + written }, n - written)
                    if w < 0 {
                        if errno == EINTR { continue }
                        return Failure(call: "write", code: errno)
                    }
                    written += w
                }
                remaining -= UInt64(n)
            }
            return nil
        }
        if let copied { return copied }
        guard fchmod(out, mode_t(mode & 0o777)) == 0 else { return Failure(call: "chmod", code: errno) }
        guard !durable || fsync(out) == 0 else { return Failure(call: "fsync", code: errno) }
        return nil
    }

    /// Makes the file `name` in `dir` look as if `writeFile` had just made it, so that it can be
    /// renamed into the host instead of copied: a regular file with one link, no extended
    /// attributes (ACLs, user.*, overlay metadata, file capabilities), no inode flags but the
    /// filesystem's own, owned by this process's user and `group`, `mode`'s permission bits only,
    /// times now. false, with the file perhaps partly changed, when any of it cannot be done:
    /// the caller then copies it. Thread-safe like `writeFile`.
    public static func adoptInPlace(in dir: Int32, _ name: String, mode: UInt32, group: gid_t) -> Bool {
        let fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_nlink == 1 else { return false }
        switch FileSystem.inodeFlags(fd) {
        case .success(let flags): guard flags & ~FileSystem.internalInodeFlags == 0 else { return false }
        case .failure(let error): guard error.errno == ENOTTY || error.errno == EOPNOTSUPP else { return false }
        }
        guard ExtendedAttributes.removeAll(descriptor: fd) == 0 else { return false }
        // chown first: it clears set-id bits; the mode then sets exactly the permission bits.
        if st.st_uid != Self.user || st.st_gid != group {
            guard fchown(fd, Self.user, group) == 0 else { return false }
        }
        return fchmod(fd, mode_t(mode & 0o777)) == 0 && futimens(fd, nil) == 0
    }

    /// The group a file created in `dir` gets: the directory's when it is set-group-ID, else ours.
    public static func creationGroup(in dir: Int32) -> gid_t {
        var st = stat()
        guard fstat(dir, &st) == 0, st.st_mode & S_ISGID != 0 else { return Self.group }
        return st.st_gid
    }

    /// This process's effective user and group (cordon never changes them).
    public static let user = geteuid()
    public static let group = getegid()

    /// `createSymlink` on an open directory; thread-safe like `writeFile`.
    public static func writeSymlink(in dir: Int32, _ name: String, target: String) -> Failure? {
        if symlinkat(target, dir, name) == 0 { return nil }
        guard errno == EEXIST, unlinkat(dir, name, 0) == 0, symlinkat(target, dir, name) == 0 else { return Failure(call: "symlink", code: errno) }
        return nil
    }

    /// syncfs(2) on this tree's filesystem: one call makes every file and directory written so far
    /// durable, instead of one fsync each; a writeback error since the tree was opened is reported.
    public func syncFilesystem() throws(CordonError) {
        guard FileSystem.syncfs(rootFD) == 0 else { throw Self.error("syncfs", root) }
    }

    /// Creates a symlink `rel`, replacing a file or symlink left there (never a directory).
    public func createSymlink(_ rel: String, target: String) throws(CordonError) {
        let (fd, name) = try parent(of: rel)
        if let failure = Self.writeSymlink(in: fd, name, target: target) { throw Self.error(failure.call, root + "/" + rel, failure.code) }
    }

    /// Holds the file or symlink at `rel` open (O_PATH) before it is replaced or removed. The kernel
    /// frees an inode when its last reference goes, and on ext4 mounted with `discard` (and no
    /// journal to batch them) that waits for the device: `releasePinned()` lets go of many at once
    /// on several threads instead of one inside each rename or unlink.
    public func pin(_ rel: String) {
        guard let (fd, name) = try? parent(of: rel) else { return }
        let held = openat(fd, name, FileSystem.openPathFlag | O_NOFOLLOW | O_CLOEXEC)
        guard held >= 0 else { return }
        pinned.append(held)
        if pinned.count >= Self.pinLimit { releasePinned() }
    }

    public func releasePinned() {
        let fds = pinned
        pinned = []
        ParallelWork.forEach(fds.count, width: ParallelWork.ioWidth) { close(fds[$0]) }
    }

    public func makeDirectory(_ rel: String, mode: UInt32) throws(CordonError) {
        let (fd, name) = try parent(of: rel)
        if mkdirat(fd, name, 0o700) != 0 {
            let code = errno
            guard code == EEXIST, let st = lstat(rel), (st.st_mode & S_IFMT) == S_IFDIR else { throw Self.error("mkdir", root + "/" + rel, code) }
        }
        try chmod(rel, mode: mode, directory: true)
    }

    /// Makes every directory above `rel` (0700), none of them through a symlink.
    public func makeParents(of rel: String) throws(CordonError) {
        var prefix = ""
        for part in rel.split(separator: "/").dropLast() {
            prefix += prefix.isEmpty ? String(part) : "/" + part
            if let st = lstat(prefix), (st.st_mode & S_IFMT) == S_IFDIR { continue }
            try makeDirectory(prefix, mode: 0o700)
        }
    }

    /// Whether the regular file `rel` here has the same bytes as `rel` in `other`.
    public func sameContent(_ rel: String, as other: AnchoredDirectory) -> Bool {
        guard let a = try? openForReading(rel) else { return false }
        defer { close(a) }
        guard let b = try? other.openForReading(rel) else { return false }
        defer { close(b) }
        return FileContents.equal(descriptors: a, b) == true
    }

    /// Removes the tree at `path` (cordon's own scratch: snapshots), descending through directory
    /// descriptors only, so a symlink inside is removed, never followed. Nothing there is fine.
    public static func removeTree(_ path: String) throws(CordonError) {
        let (dir, name) = split(path)
        let parent = open(dir.isEmpty ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard parent >= 0 else {
            if errno == ENOENT { return }
            throw error("open", dir)
        }
        defer { close(parent) }
        guard let failure = removeEntry(in: parent, RawName(text: name)) else { return }
        throw error(failure.call, path, failure.code)
    }

    /// Removes everything inside the directory `path` but the directory itself, as `removeTree`
    /// removes a tree (descriptors only, directories opened up as they are reached).
    public static func removeContents(of path: String) throws(CordonError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return }
            throw error("open", path)
        }
        defer { close(fd) }
        for name in try RawName.list(fd, path: path) {
            if let failure = removeEntry(in: fd, name) { throw error(failure.call, path + "/" + name.display, failure.code) }
        }
    }

    /// Removes the entry `rel` beneath the root, whatever it is (a directory with all it holds),
    /// reached without following a symlink on the way or at the end. false when there was none.
    @discardableResult
    public func removeTree(_ rel: String) throws(CordonError) -> Bool {
        let (fd, name) = try parent(of: rel)
        var st = stat()
        guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { return false }
            throw Self.error("stat", root + "/" + rel)
        }
        if let failure = Self.removeEntry(in: fd, RawName(text: name)) { throw Self.error(failure.call, root + "/" + rel, failure.code) }
        dropCache()
        return true
    }

    /// Names are the kernel's bytes (`RawName`): an entry whose name is not UTF-8 is removed too,
    /// not skipped under a lossy spelling.
    private static func removeEntry(in dir: Int32, _ name: RawName) -> Failure? {
        if name.withCName({ unlinkat(dir, $0, 0) }) == 0 || errno == ENOENT { return nil }
        guard errno == EISDIR else { return Failure(call: "unlink", code: errno) }
        var fd = name.open(in: dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 && errno == EACCES {
            // overlayfs leaves work directories mode 000: open them up (they are the caller's),
            // through a descriptor of the directory itself, never a path that could be a symlink.
            let held = name.open(in: dir, FileSystem.openPathFlag | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if held >= 0 {
                _ = Glibc.chmod("/proc/self/fd/\(held)", 0o700)
                close(held)
            }
            fd = name.open(in: dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        }
        guard fd >= 0 else { return Failure(call: "open directory", code: errno) }
        defer { close(fd) }
        // A directory its owner made read-only (`chmod 555 d`, as an agent may leave one) lists
        // but refuses the unlinks inside: opened up through its descriptor too.
        var st = stat()
        if fstat(fd, &st) == 0, st.st_mode & 0o300 != 0o300 { _ = fchmod(fd, (st.st_mode & 0o7777) | 0o700) }
        let names: [RawName]
        do throws(CordonError) { names = try RawName.list(fd, path: name.display) } catch { return Failure(call: "list", code: EIO) }
        for inner in names {
            if let failure = removeEntry(in: fd, inner) { return failure }
        }
        return name.withCName({ unlinkat(dir, $0, AT_REMOVEDIR) }) == 0 || errno == ENOENT ? nil : Failure(call: "rmdir", code: errno)
    }

    /// A regular file's bytes (at most `limit`), opened beneath the root without following a symlink.
    public func read(_ rel: String, limit: UInt64 = .max) throws(CordonError) -> [UInt8] {
        let fd = try openForReading(rel)
        defer { close(fd) }
        return try FileContents.read(descriptor: fd, path: root + "/" + rel, limit: limit)
    }

    /// A symlink's target, read beneath the root.
    public func readLink(_ rel: String) throws(CordonError) -> String {
        let (fd, name) = try parent(of: rel)
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlinkat(fd, name, &buffer, buffer.count - 1)
        guard n >= 0 else { throw Self.error("readlink", root + "/" + rel) }
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Removes extended attribute `name` from the directory `rel`, reached without following a symlink.
    public func removeAttribute(_ name: String, fromDirectory rel: String) {
        guard let fd = try? directory(rel) else { return }
        ExtendedAttributes.remove(descriptor: fd, name)
    }

    /// chmod without following a symlink: the file is opened with O_NOFOLLOW first.
    public func chmod(_ rel: String, mode: UInt32, directory: Bool) throws(CordonError) {
        let (fd, name) = try parent(of: rel)
        let target = openat(fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (directory ? O_DIRECTORY : 0))
        guard target >= 0 else { throw Self.error("open for chmod", root + "/" + rel) }
        defer { close(target) }
        guard fchmod(target, mode_t(mode & 0o777)) == 0 else { throw Self.error("chmod", root + "/" + rel) }
    }

    /// Atomically replaces the file or symlink `to` with `from` (both in the same directory); false
    /// when `from` is not there. A directory at `to` is never replaced.
    public func replace(_ from: String, over to: String) throws(CordonError) -> Bool {
        let (fd, fromName) = try parent(of: from)
        let (toFD, toName) = try parent(of: to)
        if renameat(fd, fromName, toFD, toName) == 0 { return true }
        switch errno {
        case ENOENT: return false
        case EISDIR: throw CordonError(.io, "\(root)/\(to) is a directory on the host; cannot replace it with a file")
        case let code: throw Self.error("rename", root + "/" + from, code)
        }
    }

    /// Removes a file, symlink or empty directory; true when it was there.
    @discardableResult
    public func remove(_ rel: String, directory: Bool) throws(CordonError) -> Bool {
        let (fd, name) = try parent(of: rel)
        if unlinkat(fd, name, directory ? AT_REMOVEDIR : 0) == 0 { return true }
        let code = errno
        if code == ENOENT { return false }
        throw Self.error(directory ? "rmdir" : "unlink", root + "/" + rel, code)
    }

    /// fsyncs `dirs` on several threads (each fsync waits for the device), in chunks whose fds stay
    /// cached; the first failure is thrown after its chunk.
    public func syncDirectories(_ dirs: [String]) throws(CordonError) {
        var start = 0
        while start < dirs.count {
            if parents.count > Self.cacheLimit / 2 { dropCache() }
            let chunk = Array(dirs[start..<min(start + Self.cacheLimit / 4, dirs.count)])
            start += chunk.count
            var opened: [Int32] = []
            for dir in chunk { opened.append(try directory(dir)) }
            let fds = opened
            let failures = ParallelWork.Failures()
            let root = self.root
            ParallelWork.forEach(fds.count, width: ParallelWork.ioWidth) { index in
                if fsync(fds[index]) != 0 { failures.record(index, Self.error("fsync directory", root + "/" + chunk[index], errno)) }
            }
            if let error = failures.first { throw error }
        }
    }
}
