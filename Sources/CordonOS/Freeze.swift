import CCordon
import Glibc

extension Cgroup {
    /// Whether this cgroup can be frozen as a whole (cgroup v2's `cgroup.freeze`; cordon's v1
    /// groups have no freezer controller).
    public var canFreeze: Bool {
        version == .v2 && directories.count == 1 && FileIO.kind(directories[0] + "/cgroup.freeze") == .file
    }

    /// Freezes every process of the cgroup (cgroup v2) and waits, up to `timeout` seconds, until
    /// the kernel reports it frozen. A frozen process stays killable (SIGKILL).
    public func freeze(timeout: Double = 5) throws(SystemError) {
        guard canFreeze else { throw SystemError("freeze", directories.first ?? Self.root, errno: ENOTSUP) }
        let dir = directories[0]
        try FileIO.writeFile(dir + "/cgroup.freeze", Array("1".utf8), flags: O_TRUNC)
        var waited = 0.0
        while waited < timeout {
            if let bytes = try? FileIO.readFile(dir + "/cgroup.events", limit: 4096),
                String(decoding: bytes, as: UTF8.self).split(separator: "\n").contains("frozen 1")
            {
                return
            }
            usleep(10_000)
            waited += 0.01
        }
        throw SystemError("wait for the freeze of", dir, errno: ETIMEDOUT)
    }
}

/// Stops (SIGSTOP) every process of a PID namespace from outside it, for a sandbox without a
/// freezable cgroup. Each process is signalled through a pidfd after its namespace is checked, so
/// a recycled pid is never hit; rounds repeat until one finds every process of the namespace
/// stopped, so children forked meanwhile are caught (their parent is stopped by the next round).
public enum NamespaceStopper {
    /// `initPID`: the namespace's init as this process sees it. Returns how many signals were
    /// sent; throws when the namespace cannot be read or processes are still running after
    /// `maxRounds` rounds (about a millisecond each: a process in an uninterruptible wait stops
    /// when the wait ends).
    @discardableResult
    public static func stopAll(initPID: Int32, maxRounds: Int = 2000) throws(SystemError) -> Int {
        guard let namespace = namespaceLink(initPID) else { throw .current("readlink", "/proc/\(initPID)/ns/pid") }
        // Never this process's own namespace: that would stop the host's processes.
        guard namespace != namespaceLink(getpid()) else {
            throw SystemError("stop the processes of", "/proc/\(initPID)/ns/pid (the supervisor's own PID namespace)", errno: EPERM)
        }
        var stopped = 0
        for _ in 0..<maxRounds {
            var running = 0
            for pid in processIDs() where namespaceLink(pid) == namespace {
                if settled(pid) { continue }
                running += 1
                let fd = ccordon_pidfd_open(pid)
                guard fd >= 0 else { continue }  // exited meanwhile
                // Checked again through the pidfd's process: the pid was not recycled in between.
                if namespaceLink(pid) == namespace, ccordon_pidfd_send_signal(fd, SIGSTOP) == 0 { stopped += 1 }
                close(fd)
            }
            if running == 0 { return stopped }
            usleep(1000)
        }
        throw SystemError("stop every process of the namespace of", "/proc/\(initPID)", errno: EAGAIN)
    }

    /// Processes of the namespace that are not stopped (for tests and checks).
    public static func runningProcesses(initPID: Int32) -> [Int32] {
        guard let namespace = namespaceLink(initPID) else { return [] }
        return processIDs().filter { pid in namespaceLink(pid) == namespace && !settled(pid) }
    }

    /// Whether `initPID` is alone in its PID namespace: every thread's `children` file read, and
    /// all empty (every process of the namespace, orphans included, is beneath its init). False
    /// when anything cannot be read: the caller then does what it would for a busy sandbox.
    public static func isAlone(initPID: Int32) -> Bool {
        guard let tasks = opendir("/proc/\(initPID)/task") else { return false }
        defer { closedir(tasks) }
        var threads = 0
        while let entry = readdir(tasks) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard Int32(name) != nil else { continue }
            threads += 1
            guard let bytes = try? FileIO.readFile("/proc/\(initPID)/task/\(name)/children", limit: 4096), bytes.isEmpty else { return false }
        }
        return threads > 0
    }

    /// The processes of `initPID`'s PID namespace (as this process numbers them): `initPID` and
    /// its descendants, read from each thread's `children` (every orphan of the namespace is
    /// adopted by its init), at a cost in proportion to the sandbox's processes; the whole of
    /// /proc when the kernel has no `children` files.
    public static func processes(inNamespaceOf initPID: Int32) -> [Int32] {
        guard let namespace = namespaceLink(initPID), namespace != namespaceLink(getpid()) else { return [] }
        guard FileIO.kind("/proc/\(initPID)/task/\(initPID)/children") == .file else {
            return processIDs().filter { namespaceLink($0) == namespace }
        }
        var found: [Int32] = [initPID]
        var seen: Set<Int32> = [initPID]
        var index = 0
        while index < found.count, found.count < 1 << 20 {
            let pid = found[index]
            index += 1
            guard let tasks = opendir("/proc/\(pid)/task") else { continue }
            var threads: [String] = []
            while let entry = readdir(tasks) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if Int32(name) != nil { threads.append(name) }
            }
            closedir(tasks)
            for thread in threads {
                guard let bytes = try? FileIO.readFile("/proc/\(pid)/task/\(thread)/children", limit: 1 << 20) else { continue }
                for word in bytes.split(separator: UInt8(ascii: " ")) {
                    if let child = Int32(String(decoding: word, as: UTF8.self)), seen.insert(child).inserted { found.append(child) }
                }
            }
        }
        return found
    }

    /// Whether `pid` runs no more code of its own: stopped, exited (a zombie), or with a SIGSTOP
    /// pending, which it takes before it returns to user space (a shell's parent waiting in
    /// vfork for a stopped child stays in an uninterruptible wait, never reaching state T).
    static func settled(_ pid: Int32) -> Bool {
        if let state = state(pid), "TtZX".contains(state) { return true }
        guard let bytes = try? FileIO.readFile("/proc/\(pid)/status", limit: 16384) else { return true }  // gone
        let stopBit = UInt64(1) << UInt64(SIGSTOP - 1)
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("SigPnd:") || line.hasPrefix("ShdPnd:") {
            let hex = String(line.dropFirst(7).filter(\.isHexDigit))
            if let mask = UInt64(hex, radix: 16), mask & stopBit != 0 { return true }
        }
        return false
    }

    static func namespaceLink(_ pid: Int32) -> String? {
        var buffer = [CChar](repeating: 0, count: 128)
        let n = readlink("/proc/\(pid)/ns/pid", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The state letter of /proc/PID/stat (after the command name, which may hold spaces and parens).
    static func state(_ pid: Int32) -> Character? {
        ProcessStat.fields(pid)?.first?.first
    }

    static func processIDs() -> [Int32] {
        guard let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        var pids: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if let pid = Int32(name), pid > 0 { pids.append(pid) }
        }
        return pids
    }
}
