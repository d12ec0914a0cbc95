import CCordon
public import CordonCore

#if canImport(Glibc)
import Glibc
#endif

/// What `lstat` says about one path; symlinks are never followed.
public struct FileInfo: Sendable, Equatable {
    public enum FileType: String, Sendable, Codable, Equatable {
        case file, directory, symlink, charDevice = "char_device", blockDevice = "block_device", fifo, socket
    }

    public var type: FileType
    /// Permission bits including setuid/setgid/sticky (`st_mode & 0o7777`).
    public var mode: UInt32
    public var size: UInt64
    public var linkCount: UInt64
    public var rdevMajor: UInt32
    public var rdevMinor: UInt32
    /// Seconds since the epoch, with nanoseconds as a fraction.
    public var modified: Double
    public var changed: Double
    public var device: UInt64
    public var inode: UInt64

    public init(
        type: FileType, mode: UInt32, size: UInt64 = 0, linkCount: UInt64 = 1, rdevMajor: UInt32 = 0, rdevMinor: UInt32 = 0,
        modified: Double = 0, changed: Double = 0, device: UInt64 = 0, inode: UInt64 = 0
    ) {
        self.type = type
        self.mode = mode
        self.size = size
        self.linkCount = linkCount
        self.rdevMajor = rdevMajor
        self.rdevMinor = rdevMinor
        self.modified = modified
        self.changed = changed
        self.device = device
        self.inode = inode
    }

    init(_ st: stat) {
        let format = UInt32(st.st_mode) & UInt32(S_IFMT)
        switch format {
        case UInt32(S_IFDIR): type = .directory
        case UInt32(S_IFLNK): type = .symlink
        case UInt32(S_IFCHR): type = .charDevice
        case UInt32(S_IFBLK): type = .blockDevice
        case UInt32(S_IFIFO): type = .fifo
        case UInt32(S_IFSOCK): type = .socket
        default: type = .file
        }
        mode = UInt32(st.st_mode) & 0o7777
        size = UInt64(max(st.st_size, 0))
        linkCount = UInt64(st.st_nlink)
        rdevMajor = ccordon_major(UInt64(st.st_rdev))
        rdevMinor = ccordon_minor(UInt64(st.st_rdev))
        modified = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
        changed = Double(st.st_ctim.tv_sec) + Double(st.st_ctim.tv_nsec) / 1e9
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
    }

    /// `lstat(path)`; nil when nothing is there (ENOENT or ENOTDIR).
    public static func lstat(_ path: String) throws(CordonError) -> FileInfo? {
        var st = stat()
        if Glibc.lstat(path, &st) == 0 { return FileInfo(st) }
        let code = errno
        if code == ENOENT || code == ENOTDIR { return nil }
        throw CordonError(.systemCall, "lstat \(path) failed", cause: String(cString: strerror(code)))
    }

    /// An overlayfs whiteout in its classic form: a character device 0/0.
    public var isCharDeviceWhiteout: Bool { type == .charDevice && rdevMajor == 0 && rdevMinor == 0 }
    public var isSpecial: Bool { type == .charDevice || type == .blockDevice || type == .fifo || type == .socket }
    public var hasSetID: Bool { mode & 0o6000 != 0 }
    public var isSticky: Bool { mode & 0o1000 != 0 }
    public var isExecutable: Bool { mode & 0o111 != 0 }
}

/// Extended attributes of a path, never following a symlink.
public enum ExtendedAttributes {
    /// The value of `name`, or nil when the attribute (or the file) does not exist.
    public static func get(_ path: String, _ name: String) -> [UInt8]? {
        value { ccordon_lgetxattr(path, name, $0, $1) }
    }

    /// The value of `name` on an open file, or nil when it has no such attribute.
    public static func get(descriptor fd: Int32, _ name: String) -> [UInt8]? {
        value { ccordon_fgetxattr(fd, name, $0, $1) }
    }

    public static func set(_ path: String, _ name: String, _ value: [UInt8]) throws(CordonError) {
        let rc = value.withUnsafeBytes { ccordon_lsetxattr(path, name, $0.baseAddress, $0.count, 0) }
        if rc != 0 {
            throw CordonError(.systemCall, "setxattr \(name) on \(path) failed", cause: String(cString: strerror(errno)))
        }
    }

    public static func remove(_ path: String, _ name: String) {
        _ = ccordon_lremovexattr(path, name)
    }

    /// Removes `name` from an open file; true when it is gone (or was never there).
    @discardableResult
    public static func remove(descriptor fd: Int32, _ name: String) -> Bool {
        ccordon_fremovexattr(fd, name) == 0 || errno == ENODATA
    }

    /// All attribute names on `path` (empty when none or unsupported).
    public static func names(_ path: String) -> [String] {
        list { ccordon_llistxattr(path, $0, $1) }
    }

    /// All attribute names on an open file (empty when none or unsupported).
    public static func names(descriptor fd: Int32) -> [String] {
        list { ccordon_flistxattr(fd, $0, $1) }
    }

    /// One `*getxattr` call shape: size first, then the value.
    private static func value(_ call: (UnsafeMutableRawPointer?, Int) -> Int) -> [UInt8]? {
        let size = call(nil, 0)
        guard size >= 0 else { return nil }
        if size == 0 { return [] }
        var buffer = [UInt8](repeating: 0, count: size)
        let read = buffer.withUnsafeMutableBytes { call($0.baseAddress, $0.count) }
        guard read >= 0 else { return nil }
        return Array(buffer.prefix(read))
    }

    /// One `*listxattr` call shape: size first, then the NUL-separated names.
    private static func list(_ call: (UnsafeMutablePointer<CChar>?, Int) -> Int) -> [String] {
        while true {
            let size = call(nil, 0)
            guard size > 0 else { return [] }
            var buffer = [CChar](repeating: 0, count: size)
            let read = buffer.withUnsafeMutableBufferPointer { call($0.baseAddress, $0.count) }
            // ERANGE: an attribute was added between the two calls; ask again rather than miss it.
            if read < 0 && errno == ERANGE { continue }
            guard read > 0 else { return [] }
            return buffer.prefix(read).split(separator: 0).map { String(decoding: $0.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        }
    }
}

/// Directory entries of one directory, without `.` and `..`, sorted by name for stable output.
public enum DirectoryListing {
    public static func names(_ path: String) throws(CordonError) -> [String] {
        guard let dir = opendir(path) else {
            throw CordonError(.systemCall, "cannot list \(path)", cause: String(cString: strerror(errno)))
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}

/// Whole-file reads for comparing and scanning.
public enum FileContents {
    /// Reads a regular file without following a symlink in the last component.
    public static func read(_ path: String, limit: UInt64 = .max) throws(CordonError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw CordonError(.systemCall, "cannot open \(path)", cause: String(cString: strerror(errno))) }
        defer { close(fd) }
        return try read(descriptor: fd, path: path, limit: limit)
    }

    /// Reads an open file from its current offset; `path` names it in errors.
    public static func read(descriptor fd: Int32, path: String, limit: UInt64 = .max) throws(CordonError) -> [UInt8] {
        // One read into an array sized by fstat plus one byte (the scanner's hot path): a short read
        // is the end of the file. A file that grows while being read continues in chunks.
        var st = stat()
        let size = fstat(fd, &st) == 0 && st.st_size > 0 ? UInt64(st.st_size) : 0
        let hint = Int(min(size, limit, 1 << 30))
        let capacity = UInt64(hint) < limit ? hint + 1 : hint
        var failed = false
        var result = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
            let n = readFull(fd, UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[0..<capacity])))
            failed = n < 0
            initialized = max(n, 0)
        }
        if failed { throw CordonError(.systemCall, "cannot read \(path)", cause: String(cString: strerror(errno))) }
        if result.count < capacity || UInt64(result.count) >= limit { return result }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while UInt64(result.count) < limit {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CordonError(.systemCall, "cannot read \(path)", cause: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            result.append(contentsOf: chunk.prefix(n))
        }
        return result
    }

    /// True when both regular files have the same bytes.
    public static func equal(_ a: String, _ b: String) throws(CordonError) -> Bool {
        let fa = open(a, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fa >= 0 else { throw CordonError(.systemCall, "cannot open \(a)", cause: String(cString: strerror(errno))) }
        defer { close(fa) }
        let fb = open(b, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fb >= 0 else { throw CordonError(.systemCall, "cannot open \(b)", cause: String(cString: strerror(errno))) }
        defer { close(fb) }
        guard let same = equal(descriptors: fa, fb) else {
            throw CordonError(.systemCall, "cannot compare \(a) and \(b)", cause: String(cString: strerror(errno)))
        }
        return same
    }

    /// True when the two open files have the same bytes from their current offsets; nil when a read fails.
    public static func equal(descriptors fa: Int32, _ fb: Int32) -> Bool? {
        var bufA = [UInt8](repeating: 0, count: 1 << 16)
        var bufB = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let na = bufA.withUnsafeMutableBytes { readFull(fa, $0) }
            let nb = bufB.withUnsafeMutableBytes { readFull(fb, $0) }
            if na < 0 || nb < 0 { return nil }
            if na != nb { return false }
            if na == 0 { return true }
            if bufA[0..<na] != bufB[0..<nb] { return false }
        }
    }

    private static func readFull(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) -> Int {
        var total = 0
        while total < buffer.count {
            let n = Glibc.read(fd, buffer.baseAddress! + total, buffer.count - total)
            if n < 0 {
                if errno == EINTR { continue }
                return -1
            }
            if n == 0 { break }
            total += n
        }
        return total
    }

    /// The target of a symlink.
    public static func readLink(_ path: String) throws(CordonError) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n >= 0 else { throw CordonError(.systemCall, "cannot read link \(path)", cause: String(cString: strerror(errno))) }
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
