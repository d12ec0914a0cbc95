import CCordon
import Glibc

/// The process-level guards, applied by cordon-init in this order: rlimits, no_new_privs,
/// Landlock, capabilities, seccomp (last: it denies calls the others need).
public enum Hardening {
    public static func setNoNewPrivileges() throws(SystemError) { try check("prctl(PR_SET_NO_NEW_PRIVS)", nil, ccordon_set_no_new_privs()) }
    public static func setParentDeathSignal(_ signal: Int32) throws(SystemError) { try check("prctl(PR_SET_PDEATHSIG)", nil, ccordon_set_pdeathsig(signal)) }
    public static func setDumpable(_ on: Bool) throws(SystemError) { try check("prctl(PR_SET_DUMPABLE)", nil, ccordon_set_dumpable(on ? 1 : 0)) }
    public static func dropAllCapabilities() throws(SystemError) { try check("drop capabilities", nil, ccordon_drop_all_capabilities()) }
    public static func installSeccompFilter() throws(SystemError) { try check("install seccomp filter", nil, ccordon_seccomp_install()) }
    public static var landlockABI: Int { Int(ccordon_landlock_abi()) }

    /// Returns the Landlock ABI applied.
    @discardableResult
    public static func applyLandlock(writable: [String], writeFiles: [String]) throws(SystemError) -> Int {
        let rc = withCStrings(writable) { w in
            withCStrings(writeFiles) { f in
                ccordon_landlock_apply(w.baseAddress, Int32(writable.count), f.baseAddress, Int32(writeFiles.count))
            }
        }
        try check("landlock", nil, rc < 0 ? rc : 0)
        return Int(rc)
    }

    /// This process's hard limit of `resource` (`RLIM_INFINITY` is `UInt64.max`).
    public static func hardResourceLimit(_ resource: Int32) throws(SystemError) -> UInt64 {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(UInt32(resource)), &limit) == 0 else { throw .current("getrlimit(\(resource))") }
        return UInt64(limit.rlim_max)
    }

    public static func setResourceLimit(_ resource: Int32, soft: UInt64, hard: UInt64) throws(SystemError) {
        var limit = rlimit(rlim_cur: rlim_t(soft), rlim_max: rlim_t(hard))
        guard setrlimit(__rlimit_resource_t(UInt32(resource)), &limit) == 0 else { throw .current("setrlimit(\(resource))") }
    }
}

/// Calls `body` with a NUL-terminated C string array for `strings` (plus a trailing nil).
public func withCStrings<R>(_ strings: [String], _ body: (UnsafeBufferPointer<UnsafePointer<CChar>?>) -> R) -> R {
    let owned = strings.map { strdup($0) }
    defer { owned.forEach { free($0) } }
    let pointers = owned.map { UnsafePointer($0) } + [nil]
    return pointers.withUnsafeBufferPointer { body($0) }
}
