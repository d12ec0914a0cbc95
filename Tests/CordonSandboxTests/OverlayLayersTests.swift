import CordonTestSupport
import Foundation
import Glibc
import Testing

/// The workspace overlay is mounted `volatile` (its unmount must not sync the host's whole
/// filesystem): runs of one sandbox still follow each other, the agent's writes are kept, the
/// kernel's marker never blocks the next run, and a marker left by a run that did not end
/// cleanly is reported.
@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"), .timeLimit(.minutes(5)))
struct OverlayLayersTests {
    func work(_ h: SandboxHarness, _ name: String) -> String { h.state + "/cordon/sandboxes/\(name)/work" }

    @Test func runsOfOneSandboxFollowEachOtherAndKeepTheirWrites() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        for round in 1...5 {
            let r = try await h.sandbox("echo \(round) >> /workspace/log && cat /workspace/log | tr '\\n' ' '")
            #expect(r.status == 0, "round \(round): \(r.stderr)")
            #expect(r.stdout == (1...round).map(String.init).joined(separator: " ") + " ")
            #expect(!r.stderr.contains("did not finish cleanly"), "\(r.stderr)")
            // The scratch directory (with the kernel's volatile marker) is moved aside after each run.
            #expect(!FileManager.default.fileExists(atPath: work(h, "t") + "/work"))
        }
        #expect(try String(contentsOfFile: h.state + "/cordon/sandboxes/t/upper/log", encoding: .utf8) == "1\n2\n3\n4\n5\n")
        // Moved-aside scratch directories are deleted by later runs (in the background, so the
        // last run's, and one a run's exit cut short, may remain): they do not pile up.
        let left = try FileManager.default.contentsOfDirectory(atPath: work(h, "t"))
        #expect(left.count <= 2 && left.allSatisfy { $0.hasPrefix("retired.") }, "\(left)")
    }

    /// What a host crash (or a killed cordon) leaves: the marker, in directories overlayfs made
    /// mode 000 (which only root reads without opening them up). The next run says so and runs.
    @Test(arguments: [false, true])
    func aMarkerLeftBehindIsReportedAndCleared(unprivileged: Bool) async throws {
        if unprivileged && !SandboxHarness.isRoot { return }
        let h = try SandboxHarness()
        defer { h.cleanup() }
        func run(_ script: String) async throws -> SandboxHarness.Result {
            let argv = ["run", "--name", "t", "--workspace", h.workspace, "--", "/bin/sh", "-c", script]
            guard unprivileged else { return try await h.cordon(argv) }
            _ = try await SandboxHarness.run(["/bin/chown", "-R", "65534:65534", h.root], environment: nil)
            _ = try await SandboxHarness.run(["/bin/chmod", "755", h.root], environment: nil)
            return try await SandboxHarness.run(
                ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", SandboxHarness.cordon] + argv,
                environment: h.environment(), directory: h.workspace)
        }
        let first = try await run("echo kept > /workspace/file")
        #expect(first.status == 0, "\(first.stderr)")
        let scratch = work(h, "t") + "/work"
        try FileManager.default.createDirectory(atPath: scratch + "/incompat/volatile", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: scratch + "/incompat/volatile/dirty", contents: nil))
        if unprivileged { _ = try await SandboxHarness.run(["/bin/chown", "-R", "65534:65534", scratch], environment: nil) }
        for dir in [scratch + "/incompat/volatile", scratch + "/incompat", scratch] { chmod(dir, 0) }
        let r = try await run("cat /workspace/file")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "kept\n")
        #expect(r.stderr.contains("did not finish cleanly"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch))
    }
}
