import CordonTestSupport
import CordonIsolation
import Foundation
import Testing

/// cordon-init's refusal, end to end (the check itself is tested in CordonIsolationTests).
@Suite(.timeLimit(.minutes(2)))
struct NamespaceCheckTests {
    /// Started by hand (here, from the test process), init must refuse before touching a mount.
    @Test func initStartedOutsideASandboxRefusesAndChangesNothing() async throws {
        let before = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        let r = try await SandboxHarness.run([SandboxHarness.productsDirectory + "/cordon-init"], environment: [:])
        #expect(r.status == 125)
        #expect(r.stderr.contains("only runs as PID 1"), "\(r.stderr)")
        #expect(try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) == before)
    }
}
