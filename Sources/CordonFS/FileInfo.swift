public import CordonCore
public import CordonOS

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
        rdevMajor = DeviceNumber.major(UInt64(st.st_rdev))
        rdevMinor = DeviceNumber.minor(UInt64(st.st_rdev))
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
        throw SystemError("lstat", path, errno: code).cordonError()
    }

    /// An overlayfs whiteout in its classic form: a character device 0/0.
    public var isCharDeviceWhiteout: Bool { type == .charDevice && rdevMajor == 0 && rdevMinor == 0 }
    public var isSpecial: Bool { type == .charDevice || type == .blockDevice || type == .fifo || type == .socket }
    public var hasSetID: Bool { mode & 0o6000 != 0 }
    public var isSticky: Bool { mode & 0o1000 != 0 }
    public var isExecutable: Bool { mode & 0o111 != 0 }
}

extension AnchoredDirectory {
    /// What `lstat` says of `rel`, reached without following a symlink; nil when nothing is there.
    public func info(_ rel: String) -> FileInfo? {
        lstat(rel).map(FileInfo.init)
    }
}
