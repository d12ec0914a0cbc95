import CCordon
import Glibc

/// A child created by `ccordon_spawn` in new namespaces, stopped before exec until `release()`.
public struct SpawnedProcess: Sendable {
    public let pid: Int32
    public let pidfd: Int32
    let goFD: Int32
    let errorFD: Int32

    /// Starts a child of `path` in namespaces `namespaces`; `descriptors[i]` becomes its fd i;
    /// `directory`, when given, is the child's working directory (this process's own, shared by
    /// all its threads, is never changed). The child waits (and dies with this thread) until
    /// `release()` is called, then execs.
    public static func start(
        path: String, arguments: [String], environment: [String], descriptors: [Int32], namespaces: NamespaceSet, becomeRoot: Bool = false,
        directory: String? = nil
    ) throws(SystemError) -> SpawnedProcess {
        var result = ccordon_spawn_result()
        let rc: Int32 = withCStrings(arguments) { a in
            withCStrings(environment) { e in
                descriptors.withUnsafeBufferPointer { f in
                    path.withCString { p in
                        withOptionalCString(directory) { d in
                            var attrs = ccordon_spawn_attrs(
                                clone_flags: namespaces.rawValue, path: p,
                                argv: UnsafeRawPointer(a.baseAddress!).assumingMemoryBound(to: UnsafeMutablePointer<CChar>?.self),
                                envp: UnsafeRawPointer(e.baseAddress!).assumingMemoryBound(to: UnsafeMutablePointer<CChar>?.self),
                                fds: f.baseAddress, fd_count: Int32(descriptors.count), become_root: becomeRoot ? 1 : 0, directory: d)
                            return ccordon_spawn(&attrs, &result)
                        }
                    }
                }
            }
        }
        try check("clone3", path, rc)
        return SpawnedProcess(pid: result.pid, pidfd: result.pidfd, goFD: result.go_fd, errorFD: result.err_fd)
    }

    /// Writes the child's uid/gid maps (a single line each: `inside outside 1`).
    public func mapIdentity(insideUid: UInt32 = 0, outsideUid: UInt32, insideGid: UInt32 = 0, outsideGid: UInt32) throws(SystemError) {
        let dir = "/proc/\(pid)"
        try FileIO.writeFile(dir + "/setgroups", "deny")
        try FileIO.writeFile(dir + "/uid_map", "\(insideUid) \(outsideUid) 1\n")
        try FileIO.writeFile(dir + "/gid_map", "\(insideGid) \(outsideGid) 1\n")
    }

    /// Maps ids 0..<`count` inside to `outside`..<`outside + count` (uids and gids alike): run as
    /// root, the sandbox's users are a block of unprivileged host ids. setgroups stays allowed so
    /// that the child (started with `becomeRoot`) drops the host's supplementary groups.
    public func mapRange(outside: UInt32, count: UInt32) throws(SystemError) {
        let dir = "/proc/\(pid)"
        try FileIO.writeFile(dir + "/uid_map", "0 \(outside) \(count)\n")
        try FileIO.writeFile(dir + "/gid_map", "0 \(outside) \(count)\n")
    }

    /// Lets the child exec; throws the child's errno if a step before exec failed.
    public func release() throws(SystemError) {
        try letGo()
        try waitForExec()
    }

    /// The first half of `release()`: lets the child go on, without waiting for its exec.
    public func letGo() throws(SystemError) {
        var go: UInt8 = 1
        let wrote = write(goFD, &go, 1)
        close(goFD)
        if wrote != 1 {
            close(errorFD)
            throw SystemError("start child", nil, errno: ESRCH)
        }
    }

    /// The second half: blocks until the child has exec'd (or failed a step before); call once.
    public func waitForExec() throws(SystemError) {
        var report: (step: Int32, errno: Int32) = (0, 0)
        let got = withUnsafeMutableBytes(of: &report) { read(errorFD, $0.baseAddress, $0.count) }
        close(errorFD)
        guard got == MemoryLayout.size(ofValue: report) else { return }
        switch report.step {
        case CCORDON_SPAWN_STEP_SETUP: throw SystemError("prepare the child", nil, errno: report.errno)
        default: throw SystemError("exec", nil, errno: report.errno)
        }
    }

    /// Kills a child that was never released and reaps it.
    public func abandon() {
        _ = ccordon_pidfd_send_signal(pidfd, SIGKILL)
        close(goFD)
        close(errorFD)
        _ = waitStatus()
        close(pidfd)
    }

    /// Blocks until the child exits; returns its exit code (128 + signal when killed).
    public func waitStatus() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    public func signal(_ sig: Int32) { _ = ccordon_pidfd_send_signal(pidfd, sig) }
}

/// Calls `body` with `string` as a C string, or nil.
private func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}
