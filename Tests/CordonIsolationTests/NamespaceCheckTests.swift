import CordonIsolation
import Testing

/// cordon-init rebuilds `/`: it must refuse to start anywhere but as PID 1 of the namespaces
/// `cordon run` makes (started by hand on the host, it would take the host's root away).
struct NamespaceCheckTests {
    @Test(arguments: [
        (Int32(1), "         0       1000          1\n", true),
        (1, "         0          0 4294967295\n", false),
        (1, "0\t0\t4294967295", false),
        (1, "         0     100000      65536\n", true),
        (57, "         0       1000          1\n", false),
        (0, "         0       1000          1\n", false),
    ])
    func initRunsOnlyAsPid1OfASandbox(pid: Int32, uidMap: String, allowed: Bool) {
        #expect((NamespaceCheck.problem(pid: pid, uidMap: uidMap) == nil) == allowed)
    }

    @Test func eachRefusalSaysWhy() {
        #expect(NamespaceCheck.problem(pid: 57, uidMap: nil)?.contains("only runs as PID 1") == true)
        #expect(NamespaceCheck.problem(pid: 1, uidMap: nil) == "cannot read /proc/self/uid_map")
        #expect(NamespaceCheck.problem(pid: 1, uidMap: "0 0 4294967295\n")?.contains("host's user namespace") == true)
    }

    /// The test process itself is no sandbox's PID 1.
    @Test func thisProcessIsRefused() {
        #expect(NamespaceCheck.problem() != nil)
        #expect(NamespaceCheck.readUidMap() != nil)
    }
}
