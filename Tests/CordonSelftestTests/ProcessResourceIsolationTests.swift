import CordonTestSupport
import Foundation
import Glibc
import Testing

/// The process, resource and isolation attacks, end to end (one test per category): on this
/// host every one must hold, with its control succeeding, and nothing may be left behind (no
/// temporary root, no sandbox process, no tagged process). Needs
/// root and user namespaces; skipped, saying why, elsewhere.
@Suite(
    .enabled(if: SelftestHost.sandboxesAvailable, "needs root and user namespaces (cordon selftest starts real sandboxes)"),
    .timeLimit(.minutes(15)), .serialized)
struct ProcessResourceIsolationTests {
    func runCategory(_ category: String, atLeast: Int) async throws {
        let home = try TempTree.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let before = SelftestIntegrationTests.scratch()
        let result = try await ProcessRunner.run(
            [SelftestProducts.cordon, "selftest", "--only", category, "--json"],
            environment: ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": home, "LANG": "C.UTF-8"],
            timeout: .seconds(840))
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "stdout: \(result.stdout)\nstderr: \(result.stderr)")
        let summary = try #require(document["summary"] as? [String: Int])
        let attacks = try #require(document["attacks"] as? [[String: String]])
        let notHeld = attacks.filter { $0["result"] != "held" }.map { "\($0["id"] ?? "?"): \($0["result"] ?? "?") \($0["evidence"] ?? "")" }
        #expect(summary["open"] == 0, "\(notHeld)")
        #expect(summary["invalid"] == 0, "\(notHeld)")
        #expect(summary["total"] ?? 0 >= atLeast)
        #expect(attacks.allSatisfy { $0["category"] == category })
        #expect(attacks.allSatisfy { $0["control_result"] == "succeeded" }, "\(notHeld)")
        #expect(result.status == 0, "\(result.stderr)")
        // Nothing left: no temporary root, no supervisor of a selftest sandbox, no tagged
        // process, the user's HOME untouched.
        #expect(SelftestIntegrationTests.scratch().subtracting(before).isEmpty)
        let left = try await ProcessRunner.run(
            [
                "/bin/sh", "-c",
                "pgrep -af -- '__supervise --name selftest-(proc|res|iso)|selftest-(load|orphan|listener|canary|bpf|perf|userfaultfd|io_uring|fds)-'; true",
            ],
            timeout: .seconds(30))
        #expect(left.stdout.isEmpty, "\(left.stdout)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: home).isEmpty)
    }

    @Test func processAttacksHold() async throws { try await runCategory("process", atLeast: 14) }
    @Test func resourceAttacksHold() async throws { try await runCategory("resources", atLeast: 7) }
    @Test func isolationAttacksHold() async throws { try await runCategory("isolation", atLeast: 2) }
}
