import CordonOS
import Glibc

/// cordon-init rebuilds `/` and calls pivot_root: run anywhere but inside the namespaces
/// `cordon run` creates, it would take the host's root away. It checks first.
public enum NamespaceCheck {
    /// Why this process is not PID 1 of a fresh PID namespace in a non-initial user namespace,
    /// or nil when it is.
    public static func problem() -> String? { problem(pid: getpid(), uidMap: readUidMap()) }

    public static func problem(pid: Int32, uidMap: String?) -> String? {
        guard pid == 1 else {
            return "cordon-init only runs as PID 1 of a sandbox that `cordon run` creates (this is PID \(pid)); it was not started by cordon"
        }
        guard let uidMap else { return "cannot read /proc/self/uid_map" }
        let fields = uidMap.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
        if fields.count == 3, fields[0] == "0", fields[1] == "0", fields[2] == "4294967295" {
            return "cordon-init refuses to run in the host's user namespace; it is started by `cordon run`"
        }
        return nil
    }

    public static func readUidMap() -> String? {
        guard let bytes = try? FileIO.readFile("/proc/self/uid_map", limit: 4096) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
