import CCordon
import Glibc

/// Mount operations, each a thin typed wrapper over mount(2).
public enum Mount {
    public static func makeRootPrivate() throws(SystemError) {
        guard mount("none", "/", nil, UInt(MS_REC | MS_PRIVATE), nil) == 0 else { throw .current("make / private") }
    }

    public static func tmpfs(_ target: String, mode: UInt32 = 0o755, sizeBytes: UInt64? = nil, noExec: Bool = false) throws(SystemError) {
        let flags = UInt(MS_NOSUID | MS_NODEV | (noExec ? MS_NOEXEC : 0))
        var options = "mode=" + String(mode, radix: 8)
        if let sizeBytes { options += ",size=\(sizeBytes)" }
        guard mount("tmpfs", target, "tmpfs", flags, options) == 0 else { throw .current("mount tmpfs on", target) }
    }

    /// Bind `source` onto `target`; read-only binds are remounted keeping the kernel's locked flags.
    public static func bind(_ source: String, _ target: String, readOnly: Bool, recursive: Bool = true) throws(SystemError) {
        let flags = UInt(MS_BIND | (recursive ? MS_REC : 0))
        guard mount(source, target, nil, flags, nil) == 0 else { throw .current("bind \(source) to", target) }
        if readOnly {
            try check("remount read-only", target, ccordon_remount_readonly(target, UInt(MS_NOSUID)))
        }
    }

    /// `volatile`: the kernel skips every sync of the upper filesystem (the agent's fsyncs, and
    /// the whole-filesystem sync when the overlay is unmounted) and leaves a marker in `work`
    /// (`volatileMarker`) that refuses the next mount until it is removed.
    public static func overlay(lower: String, upper: String, work: String, target: String, userXattr: Bool, volatile: Bool = false) throws(SystemError) {
        var options = "lowerdir=\(escape(lower)),upperdir=\(escape(upper)),workdir=\(escape(work))"
        if userXattr { options += ",userxattr" }
        if volatile { options += ",volatile" }
        guard mount("overlay", target, "overlay", UInt(MS_NOSUID | MS_NODEV), options) == 0 else {
            throw .current("mount overlay (lower \(lower), upper \(upper)) on", target)
        }
    }

    /// The directory a `volatile` overlay leaves in its work dir (overlayfs.rst, "Volatile mount").
    public static func volatileMarker(work: String) -> String { work + "/work/incompat/volatile" }

    public static func proc(_ target: String) throws(SystemError) {
        guard mount("proc", target, "proc", UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC), nil) == 0 else { throw .current("mount proc on", target) }
    }

    public static func devpts(_ target: String) throws(SystemError) {
        guard mount("devpts", target, "devpts", UInt(MS_NOSUID | MS_NOEXEC), "newinstance,ptmxmode=0666,mode=620") == 0 else {
            throw .current("mount devpts on", target)
        }
    }

    /// Remounts `target` read-only, keeping the kernel's locked flags and adding `flags`.
    public static func remountReadOnly(_ target: String, adding flags: UInt = 0) throws(SystemError) {
        try check("remount read-only", target, ccordon_remount_readonly(target, flags))
    }

    public static func pivotRoot(_ newRoot: String) throws(SystemError) {
        guard chdir(newRoot) == 0 else { throw .current("chdir", newRoot) }
        try check("pivot_root", newRoot, ccordon_pivot_root(".", "."))
        guard umount2(".", Int32(MNT_DETACH)) == 0 else { throw .current("detach old root") }
        guard chdir("/") == 0 else { throw .current("chdir", "/") }
    }

    /// overlayfs option values escape ',' and ':' and '\'.
    static func escape(_ path: String) -> String {
        var out = ""
        for c in path {
            if c == "," || c == ":" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out
    }
}

/// The new mount API: mounts as descriptors, made detached and attached later. Each descriptor
/// returned is the caller's to close.
extension Mount {
    /// open_tree(OPEN_TREE_CLONE): a detached copy of the mount at `path`, with its submounts
    /// when `recursive`.
    public static func cloneTree(_ path: String, recursive: Bool = true) throws(SystemError) -> Int32 {
        let fd = ccordon_clone_tree(AT_FDCWD, path, recursive ? 1 : 0)
        guard fd >= 0 else { throw SystemError("open a private copy of", path, returned: fd) }
        return fd
    }

    /// move_mount: attaches the detached tree `tree` at `target` (`what` names it in errors).
    public static func attachTree(_ tree: Int32, at target: String, what: String = "a detached tree") throws(SystemError) {
        try check("attach \(what) at", target, ccordon_attach_tree(tree, target))
    }

    /// Makes the detached tree `tree` idmapped through the user namespace `userns`.
    public static func idmapTree(_ tree: Int32, userNamespace userns: Int32, what: String) throws(SystemError) {
        try check("idmap", what, ccordon_idmap_tree(tree, userns))
    }

    /// A tmpfs (1 MiB, nosuid, nodev, noexec) attached nowhere.
    public static func detachedTmpfs() throws(SystemError) -> Int32 {
        let fd = ccordon_tmpfs_detached()
        guard fd >= 0 else { throw SystemError("create a private tmpfs for generated files", nil, returned: fd) }
        return fd
    }

    /// Writes `bytes` as the new file `name` in the detached tmpfs `tmpfs` and binds it
    /// read-only over `target`.
    public static func coverFile(in tmpfs: Int32, name: String, _ bytes: [UInt8], mode: UInt32, over target: String) throws(SystemError) {
        let rc = bytes.withUnsafeBytes { ccordon_cover_file(tmpfs, name, $0.baseAddress, $0.count, mode, target) }
        try check("bind a generated file over", target, rc)
    }

    /// An overlay at `target` whose layers are descriptors (overlayfs since Linux 6.13): false
    /// when the kernel takes no layer by descriptor (mount it by path instead). A failure
    /// carries the filesystem's own message, if it gave one.
    public static func overlay(lowerTree: Int32, upper: Int32, work: Int32, target: String, userXattr: Bool, volatile: Bool, describing what: String)
        throws(SystemError) -> Bool
    {
        var log = [CChar](repeating: 0, count: 512)
        let rc = ccordon_overlay_from_fds(lowerTree, upper, work, userXattr ? 1 : 0, volatile ? 1 : 0, target, &log, log.count)
        if rc == -EOPNOTSUPP { return false }
        guard rc == 0 else {
            let said = String(decoding: log.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw SystemError("mount overlay (\(what))\(said.isEmpty ? "" : " [\(said)]") on", target, returned: rc)
        }
        return true
    }
}
