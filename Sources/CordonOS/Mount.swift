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

    public static func remountReadOnly(_ target: String) throws(SystemError) {
        try check("remount read-only", target, ccordon_remount_readonly(target, 0))
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
