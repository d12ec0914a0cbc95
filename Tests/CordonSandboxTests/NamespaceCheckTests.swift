import CordonIsolation
import Foundation
import Testing

struct NamespaceCheckTests {
    @Test(arguments: [
        (Int32(1), "         0       1000          1\n", true),
        (1, "         0          0 4294967295\n", false),
        (57, "         0       1000          1\n", false),
    ])
    func initRunsOnlyAsPid1OfASandbox(pid: Int32, uidMap: String, allowed: Bool) {
        #expect((NamespaceCheck.problem(pid: pid, uidMap: uidMap) == nil) == allowed)
    }

    /// Started by hand (here, from the test process), init must refuse before touching a mount.
    @Test func initStartedOutsideASandboxRefusesAndChangesNothing() async throws {
        let before = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        let r = try await SandboxHarness.run([SandboxHarness.productsDirectory + "/cordon-init"], environment: [:])
        #expect(r.status == 125)
        #expect(r.stderr.contains("only runs as PID 1"), "\(r.stderr)")
        #expect(try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) == before)
    }
}
