public import CordonCore
import CordonOS

/// The process-wide guard while a command holds secret values: not dumpable, so no core dump is
/// written and no other process of the user may ptrace it or read its /proc/PID/mem.
public enum Exposure {
    public static func hide() throws(CordonError) {
        do { try Hardening.setDumpable(false) } catch {
            throw error.cordonError(.systemCall, "cannot mark the process non-dumpable before it reads a secret")
        }
    }
}
