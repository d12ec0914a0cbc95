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
        _ = try await SelftestCategoryRun.run(category, minimum: atLeast)
        // Nothing left: no supervisor of a selftest sandbox, no tagged process.
        let left = try await ProcessRunner.run(
            [
                "/bin/sh", "-c",
                "pgrep -af -- '__supervise --name selftest-(proc|res|iso)|selftest-(load|orphan|listener|canary|bpf|perf|userfaultfd|io_uring|fds)-'; true",
            ],
            timeout: .seconds(30))
        #expect(left.stdout.isEmpty, "\(left.stdout)")
    }

    @Test func processAttacksHold() async throws { try await runCategory("process", atLeast: 14) }
    @Test func resourceAttacksHold() async throws { try await runCategory("resources", atLeast: 7) }
    @Test func isolationAttacksHold() async throws { try await runCategory("isolation", atLeast: 2) }
}
