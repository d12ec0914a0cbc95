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
    /// `cordon selftest --only CATEGORY --json` (`SelftestCategoryRun`), and no temporary root left.
    /// `ownProfile` names a profile only this category's run writes: a temporary root left behind
    /// holding it is this run's (the framework's suite may run at the same time with its own).
    func runCategory(_ category: String, minimum: Int, ownProfile: String) async throws {
        let run = try await SelftestCategoryRun.run(category, minimum: minimum)
        let left = run.rootsLeft(holding: "profiles/" + ownProfile + ".yaml")
        #expect(left.isEmpty, "left behind: \(left)")
    }

    @Test func syncAttacksHoldAndLeaveNothing() async throws {
        try await runCategory("sync", minimum: 12, ownProfile: "selftest-sync-envrc-a")
    }

    @Test func supplyChainAttacksHoldAndLeaveNothing() async throws {
        try await runCategory("supply-chain", minimum: 2, ownProfile: "selftest-supply")
    }
}
