#if canImport(Glibc)
    import Glibc
#endif

/// `/proc/PID/stat`, read past the command name (which may hold spaces and parentheses).
public enum ProcessStat {
    /// Fields 3 onwards (state, ppid, …): index 0 is field 3. nil when the process is gone.
    public static func fields(_ pid: Int32) -> [Substring]? {
        guard let bytes = try? FileIO.readFile("/proc/\(pid)/stat", limit: 4096), let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        return String(decoding: bytes[(close + 1)...], as: UTF8.self).split(separator: " ")
    }

    /// Whole seconds since `pid` started (field 22, clock ticks after boot, against
    /// /proc/uptime); nil when it is gone.
    public static func ageSeconds(_ pid: Int32) -> Int? {
        guard let fields = fields(pid), fields.count > 19, let start = Double(fields[19]),
            let uptimeBytes = try? FileIO.readFile("/proc/uptime", limit: 256),
            let uptime = String(decoding: uptimeBytes, as: UTF8.self).split(separator: " ").first.flatMap({ Double($0) })
        else { return nil }
        return max(0, Int(uptime - start / Double(clockTicks)))
    }

    /// Clock ticks per second, the unit of the times in `fields`.
    public static var clockTicks: Int { max(1, sysconf(Int32(_SC_CLK_TCK))) }
}
