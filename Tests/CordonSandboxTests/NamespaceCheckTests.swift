import CordonTestSupport
import CordonIsolation
import Foundation
import Testing

/// cordon-init's refusal, end to end (the check itself is tested in CordonIsolationTests).
@Suite(.timeLimit(.minutes(2)))
struct NamespaceCheckTests {
    /// Started by hand (here, from the test process), init must refuse before touching a mount.
    @Test func initStartedOutsideASandboxRefusesAndChangesNothing() async throws {
        let before = try Self.mounts()
        let r = try await SandboxHarness.run([SandboxHarness.productsDirectory + "/cordon-init"], environment: [:])
        #expect(r.status == 125)
        #expect(r.stderr.contains("only runs as PID 1"), "\(r.stderr)")
        #expect(try Self.mounts() == before)
    }

    /// The mount table's lines, without the network namespace handles under /run/netns that
    /// other suites running at the same time make and remove (`ip netns add`, the selftest's lab).
    static func mounts() throws -> [Substring] {
        try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8).split(separator: "\n").filter { line in
            let fields = line.split(separator: " ")
            return fields.count < 5 || !fields[4].hasPrefix("/run/netns")
        }
    }
}
