import CCordon

#if canImport(Glibc)
    import Glibc
#endif

/// Filesystem calls Swift's Glibc does not expose (openat2, syncfs, inode flags, O_PATH), each
/// returning what the kernel said; callers turn a failure into a `SystemError`.
public enum FileSystem {
    /// O_PATH: a descriptor that only names a file (for *at calls and holding an inode).
    public static let openPathFlag: Int32 = CCORDON_O_PATH

    /// openat2's resolve flags: beneath the directory, no symlink of any kind on the way.
    public static let resolveBeneathNoLinks: UInt64 = CCORDON_RESOLVE_BENEATH | CCORDON_RESOLVE_NO_SYMLINKS | CCORDON_RESOLVE_NO_MAGICLINKS

    /// openat2(2) (close-on-exec is the caller's flag to give): a descriptor, or -1 with errno set.
    public static func openat2(_ dir: Int32, _ path: String, _ flags: Int32, mode: UInt32 = 0, resolve: UInt64) -> Int32 {
        ccordon_openat2(dir, path, flags, mode, resolve)
    }

    /// rename(2) that fails with EEXIST instead of replacing `target` (renameat2 with
    /// RENAME_NOREPLACE): 0, or -1 with errno set.
    public static func renameNoReplace(_ source: String, _ target: String) -> Int32 {
        ccordon_renameat2(AT_FDCWD, source, AT_FDCWD, target, CCORDON_RENAME_NOREPLACE)
    }

    /// syncfs(2) on the filesystem holding `fd`: 0, or -1 with errno set.
    public static func syncfs(_ fd: Int32) -> Int32 {
        ccordon_syncfs(fd)
    }

    /// The inode flags (chattr's) of `fd`; nil with the errno when the filesystem has none
    /// (ENOTTY, EOPNOTSUPP) or the call failed.
    public static func inodeFlags(_ fd: Int32) -> Result<UInt32, SystemError> {
        var flags: UInt32 = 0
        let rc = ccordon_inode_flags(fd, &flags)
        return rc == 0 ? .success(flags) : .failure(SystemError("read inode flags", nil, returned: rc))
    }

    /// Inode flags the filesystem sets by itself (extents, huge file, inline data).
    public static let internalInodeFlags: UInt32 = CCORDON_INODE_FLAGS_INTERNAL
}

/// dev_t's parts, as the kernel packs them.
public enum DeviceNumber {
    public static func major(_ device: UInt64) -> UInt32 { ccordon_major(device) }
    public static func minor(_ device: UInt64) -> UInt32 { ccordon_minor(device) }
    public static func make(major: UInt32, minor: UInt32) -> UInt64 { ccordon_makedev(major, minor) }
}
