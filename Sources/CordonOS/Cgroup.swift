import CCordon
import Glibc

/// A cgroup holding one sandbox, with memory, pids and CPU limits. cgroup v2 when the host
/// has a unified hierarchy with the controllers delegated to us, else v1 controllers (as on
/// hosts still booted with the legacy hierarchy).
public final class Cgroup: Sendable {
    public struct Limits: Sendable, Equatable {
        public var memoryBytes: UInt64?
        public var cpus: Double?
        public var pids: Int?
        public init(memoryBytes: UInt64? = nil, cpus: Double? = nil, pids: Int? = nil) {
            self.memoryBytes = memoryBytes
            self.cpus = cpus
            self.pids = pids
        }
        public var isEmpty: Bool { memoryBytes == nil && cpus == nil && pids == nil }
    }

    public enum Version: String, Sendable { case v1, v2 }

    public let version: Version
    /// One directory for v2; one per controller for v1.
    public let directories: [String]

    private init(version: Version, directories: [String]) {
        self.version = version
        self.directories = directories
    }

    static let root = "/sys/fs/cgroup"

    public static var hostVersion: Version? {
        if FileIO.kind(root + "/cgroup.controllers") == .file { return .v2 }
        if FileIO.kind(root + "/memory") == .directory || FileIO.kind(root + "/pids") == .directory { return .v1 }
        return nil
    }

    /// The caller's own cgroup path in a hierarchy (`controller` nil for v2), from /proc/self/cgroup.
    static func ownPath(controller: String?) -> String? {
        guard let bytes = try? FileIO.readFile("/proc/self/cgroup") else { return nil }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            if let controller {
                if parts[1].split(separator: ",").contains(Substring(controller)) { return String(parts[2]) }
            } else if parts[0] == "0" && parts[1].isEmpty {
                return String(parts[2])
            }
        }
        return nil
    }

    /// Creates (or reuses) the sandbox's cgroup and writes every limit; throws if any limit
    /// cannot be enforced, after removing what it made.
    public static func create(name: String, limits: Limits) throws(SystemError) -> Cgroup {
        switch hostVersion {
        case .v2: return try createV2(name: name, limits: limits)
        case .v1: return try createV1(name: name, limits: limits)
        case nil: throw SystemError("find a cgroup hierarchy", root, errno: ENOENT)
        }
    }

    private static func createV1(name: String, limits: Limits) throws(SystemError) -> Cgroup {
        var writes: [(controller: String, file: String, value: String)] = []
        if let memory = limits.memoryBytes {
            writes.append(("memory", "memory.limit_in_bytes", String(memory)))
            writes.append(("memory", "memory.memsw.limit_in_bytes", String(memory)))
        }
        if let pids = limits.pids { writes.append(("pids", "pids.max", String(pids))) }
        if let cpus = limits.cpus {
            writes.append(("cpu", "cpu.cfs_period_us", "100000"))
            writes.append(("cpu", "cpu.cfs_quota_us", String(max(1000, Int(cpus * 100_000)))))
        }
        var controllers: [String] = []
        for w in writes where !controllers.contains(w.controller) { controllers.append(w.controller) }
        var made: [String] = []
        do throws(SystemError) {
            for controller in controllers {
                let own = ownPath(controller: controller) ?? "/"
                let dir = root + "/" + controller + (own == "/" ? "" : own) + "/cordon/" + name
                try FileIO.makeDirectories(dir)
                made.append(dir)
                for w in writes where w.controller == controller {
                    let file = dir + "/" + w.file
                    // memsw exists only with swap accounting; its absence is not a missing guard.
                    if w.file == "memory.memsw.limit_in_bytes" && FileIO.kind(file) == .missing { continue }
                    try FileIO.writeFile(file, Array(w.value.utf8), flags: O_TRUNC)
                }
            }
        } catch {
            Cgroup(version: .v1, directories: made).remove()
            throw error
        }
        return Cgroup(version: .v1, directories: made)
    }

    private static func createV2(name: String, limits: Limits) throws(SystemError) -> Cgroup {
        let own = ownPath(controller: nil) ?? "/"
        let parent = root + (own == "/" ? "" : own)
        let dir = parent + "/cordon-" + name
        var needed: [String] = []
        if limits.memoryBytes != nil { needed.append("memory") }
        if limits.pids != nil { needed.append("pids") }
        if limits.cpus != nil { needed.append("cpu") }
        let enabled = (try? FileIO.readFile(parent + "/cgroup.subtree_control")).map { String(decoding: $0, as: UTF8.self) } ?? ""
        for controller in needed where !enabled.split(whereSeparator: { $0 == " " || $0 == "\n" }).contains(Substring(controller)) {
            try FileIO.writeFile(parent + "/cgroup.subtree_control", Array("+\(controller)".utf8), flags: O_TRUNC)
        }
        try FileIO.makeDirectories(dir)
        let group = Cgroup(version: .v2, directories: [dir])
        do throws(SystemError) {
            if let memory = limits.memoryBytes {
                try FileIO.writeFile(dir + "/memory.max", Array(String(memory).utf8), flags: O_TRUNC)
                if FileIO.kind(dir + "/memory.swap.max") == .file {
                    try FileIO.writeFile(dir + "/memory.swap.max", Array("0".utf8), flags: O_TRUNC)
                }
            }
            if let pids = limits.pids { try FileIO.writeFile(dir + "/pids.max", Array(String(pids).utf8), flags: O_TRUNC) }
            if let cpus = limits.cpus {
                try FileIO.writeFile(dir + "/cpu.max", Array("\(max(1000, Int(cpus * 100_000))) 100000".utf8), flags: O_TRUNC)
            }
        } catch {
            group.remove()
            throw error
        }
        return group
    }

    /// Starts `pid` (a single-threaded process that has run nothing yet) joining this cgroup;
    /// `Joining.finish()` completes it. v1: the process moves itself, writing "0" to each
    /// hierarchy's `tasks` through descriptors opened here (a thread moving itself skips the global
    /// lock, and the RCU grace period of ~10 ms here, that moving a process from outside takes).
    /// v2 moves whole processes only: `pid` is written to `cgroup.procs` on another thread, which
    /// waits for that grace period while the caller does other work.
    public func startJoining(pid: Int32) throws(SystemError) -> Joining {
        if version == .v1 {
            var fds: [Int32] = []
            for dir in directories {
                let fd = open(dir + "/tasks", O_WRONLY | O_CLOEXEC | O_NOFOLLOW)
                guard fd >= 0 else {
                    let error = SystemError.current("open", dir + "/tasks")
                    fds.forEach { close($0) }
                    throw error
                }
                fds.append(fd)
            }
            return Joining(selfJoinFiles: fds)
        }
        let files = directories.map { $0 + "/cgroup.procs" }
        let writer = withCStrings(files) { ccordon_write_pid_start($0.baseAddress, Int32(files.count), pid) }
        guard let writer else { throw .current("start joining the cgroup") }
        return Joining(writer: writer, files: files)
    }

    /// A cgroup join in progress; dropping it waits for the writer thread and closes what was
    /// not handed over.
    public final class Joining {
        private var writer: OpaquePointer?
        private let files: [String]
        private var selfJoinFiles: [Int32]

        init(writer: OpaquePointer, files: [String]) {
            self.writer = writer
            self.files = files
            self.selfJoinFiles = []
        }

        init(selfJoinFiles: [Int32]) {
            self.writer = nil
            self.files = []
            self.selfJoinFiles = selfJoinFiles
        }

        /// Completes the join from this side (v2: waits for the write; throws which failed) and
        /// returns the descriptors the process writes "0" to, to join by itself (v1; the caller
        /// owns them now). Later calls return [] at once.
        public func finish() throws(SystemError) -> [Int32] {
            if let writer {
                self.writer = nil
                var failed: Int32 = -1
                let rc = ccordon_write_pid_wait(writer, &failed)
                let file = files.indices.contains(Int(failed)) ? files[Int(failed)] : nil
                try check("write", file, rc)
            }
            defer { selfJoinFiles = [] }
            return selfJoinFiles
        }

        deinit {
            if let writer { _ = ccordon_write_pid_wait(writer, nil) }
            selfJoinFiles.forEach { close($0) }
        }
    }

    /// Whether the kernel OOM-killed something in this cgroup.
    public var oomKills: Int {
        for dir in directories {
            let file = version == .v2 ? dir + "/memory.events" : dir + "/memory.oom_control"
            guard let bytes = try? FileIO.readFile(file) else { continue }
            for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
                let parts = line.split(separator: " ")
                if parts.count == 2, parts[0] == "oom_kill", let n = Int(parts[1]) { return n }
            }
        }
        return 0
    }

    /// Removes the directories; processes are gone by then (PID namespace torn down), but the
    /// kernel may take a moment to release them.
    public func remove() {
        for dir in directories.reversed() {
            for _ in 0..<50 {
                if rmdir(dir) == 0 || errno == ENOENT { break }
                usleep(20_000)
            }
        }
    }
}
