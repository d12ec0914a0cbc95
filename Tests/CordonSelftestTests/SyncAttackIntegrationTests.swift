import CordonTestSupport
import Foundation
import Glibc
import Testing

/// The sync and supply-chain categories end to end: on this host every attack must hold with its
/// control succeeding, and nothing may be left behind. Skipped, saying why, where sandboxes
/// cannot start (as the framework's own suite).
@Suite(
    .enabled(if: SelftestHost.sandboxesAvailable, "needs root and user namespaces (cordon selftest starts real sandboxes)"),
    .serialized, .timeLimit(.minutes(15)))
struct SyncAttackIntegrationTests {
    /// `cordon selftest --only CATEGORY --json`: 0 OPEN, 0 invalid, at least `minimum` attacks,
    /// every control succeeded, exit 0, no temporary root left, the user's HOME untouched.
    /// `ownProfile` names a profile only this category's run writes: a temporary root left behind
    /// holding it is this run's (the framework's suite may run at the same time with its own).
    func runCategory(_ category: String, minimum: Int, ownProfile: String) async throws {
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
        #expect(attacks.count >= minimum)
        #expect(attacks.allSatisfy { $0["category"] == category })
        #expect(attacks.allSatisfy { $0["control_result"] == "succeeded" }, "\(notHeld)")
        #expect(result.status == 0, "\(result.stderr)")
        let left = SelftestIntegrationTests.scratch().subtracting(before).filter {
            FileManager.default.fileExists(atPath: "/tmp/" + $0 + "/profiles/" + ownProfile + ".yaml")
        }
        #expect(left.isEmpty, "left behind: \(left)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: home).isEmpty)
    }

    @Test func syncAttacksHoldAndLeaveNothing() async throws {
        try await runCategory("sync", minimum: 12, ownProfile: "selftest-sync-envrc-a")
    }

    @Test func supplyChainAttacksHoldAndLeaveNothing() async throws {
        try await runCategory("supply-chain", minimum: 2, ownProfile: "selftest-supply")
    }
}
