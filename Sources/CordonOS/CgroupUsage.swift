#if canImport(Glibc)
    import Glibc
#endif

/// A sandbox's cgroups found again from outside its run (`cordon ls`, `status`, `rm`): where
/// `Cgroup.create(name: "NAME.PID")` made them for the supervisor PID, and what they use now.
extension Cgroup {
    public struct Usage: Sendable, Equatable {
        /// CPU time the sandbox's processes used (microseconds).
        public var cpuMicroseconds: UInt64?
        /// Memory charged to the sandbox now (bytes).
        public var memoryBytes: UInt64?
        public init(cpuMicroseconds: UInt64? = nil, memoryBytes: UInt64? = nil) {
            self.cpuMicroseconds = cpuMicroseconds
            self.memoryBytes = memoryBytes
        }
    }

    /// The cgroup directories of sandbox `sandbox`: of the run whose supervisor is `supervisor`
    /// when given (found beneath that process's own cgroup), else every run's found beneath this
    /// process's cgroup (leftovers a killed supervisor did not remove).
    public static func directories(sandbox: String, supervisor: Int32?) -> [String] {
        let proc = supervisor.map { "/proc/\($0)/cgroup" } ?? "/proc/self/cgroup"
        guard let bytes = try? FileIO.readFile(proc, limit: 65536) else { return [] }
        var memberships: [(controllers: [Substring], path: String)] = []
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            memberships.append((parts[1].split(separator: ","), String(parts[2])))
        }
        func matches(_ entry: String, prefix: String) -> Bool {
            guard entry.hasPrefix(prefix + sandbox + ".") else { return false }
            let pid = entry.dropFirst(prefix.count + sandbox.count + 1)
            if let supervisor { return pid == Substring(String(supervisor)) }
            return !pid.isEmpty && pid.allSatisfy(\.isNumber)
        }
        func children(_ parent: String, prefix: String) -> [String] {
            (DirectoryListing.names(at: parent) ?? []).filter { matches($0, prefix: prefix) }.sorted().map { parent + "/" + $0 }
        }
        switch hostVersion {
        case .v2:
            guard let own = memberships.first(where: { $0.controllers.isEmpty })?.path else { return [] }
            return children(root + (own == "/" ? "" : own), prefix: "cordon-")
        case .v1:
            var result: [String] = []
            for controller in ["memory", "pids", "cpu", "cpuacct"] {
                guard let own = memberships.first(where: { $0.controllers.contains(Substring(controller)) })?.path else { continue }
                let parent = root + "/" + controller + (own == "/" ? "" : own) + "/cordon"
                for dir in children(parent, prefix: "") where !result.contains(dir) { result.append(dir) }
            }
            return result
        case nil:
            return []
        }
    }

    /// CPU time and memory of the cgroups `directories` (one run's). v2: `cpu.stat` usage_usec and
    /// `memory.current`; v1: `cpuacct.usage` when there is a cpuacct group, else the CPU time of
    /// the processes in it now (with their reaped children's), and `memory.usage_in_bytes`.
    public static func usage(of directories: [String]) -> Usage {
        var usage = Usage()
        func number(_ path: String) -> UInt64? {
            guard let bytes = try? FileIO.readFile(path, limit: 4096) else { return nil }
            return UInt64(String(decoding: bytes, as: UTF8.self).trimmingWhitespace)
        }
        var processes: [Int32] = []
        for dir in directories {
            if let stat = try? FileIO.readFile(dir + "/cpu.stat", limit: 65536) {
                for line in String(decoding: stat, as: UTF8.self).split(separator: "\n") where line.hasPrefix("usage_usec ") {
                    usage.cpuMicroseconds = UInt64(line.dropFirst("usage_usec ".count))
                }
            }
            if usage.cpuMicroseconds == nil, let nanoseconds = number(dir + "/cpuacct.usage") { usage.cpuMicroseconds = nanoseconds / 1000 }
            if usage.memoryBytes == nil { usage.memoryBytes = number(dir + "/memory.current") ?? number(dir + "/memory.usage_in_bytes") }
            if processes.isEmpty, let procs = try? FileIO.readFile(dir + "/cgroup.procs", limit: 1 << 20) {
                processes = String(decoding: procs, as: UTF8.self).split(separator: "\n").prefix(4096).compactMap { Int32($0) }
            }
        }
        if usage.cpuMicroseconds == nil, !processes.isEmpty {
            var total: UInt64 = 0
            for pid in processes {
                // utime, stime, cutime and cstime are fields 14 to 17.
                guard let fields = ProcessStat.fields(pid), fields.count > 14 else { continue }
                for index in 11...14 { total += UInt64(fields[index]) ?? 0 }
            }
            usage.cpuMicroseconds = total * 1_000_000 / UInt64(ProcessStat.clockTicks)
        }
        return usage
    }

    /// Removes the cgroup directories `directories` that no process is in any more (a killed
    /// supervisor's leftovers); returns those that could not be removed.
    public static func removeLeftovers(_ directories: [String]) -> [String] {
        directories.reversed().filter { rmdir($0) != 0 && errno != ENOENT }
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        String(self.drop { $0 == " " || $0 == "\n" }.reversed().drop { $0 == " " || $0 == "\n" }.reversed())
    }
}
