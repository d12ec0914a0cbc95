import CordonCore
import CordonFS
import CordonGate
import CordonTestSupport
import Foundation
import Glibc
import Testing

/// Writes under `mounts[]` with `mode: overlay` are changes like the workspace's: `cordon diff`
/// shows them with their path in the sandbox, `cordon sync` gates them and applies them to their
/// host directory, crash-safely, and yolo's rounds cover them. Real sandboxes.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct OverlayMountSyncTests {
    static let token = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    static func read(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    /// A harness with a host directory `data` shared at /data as an overlay, and its profile.
    static func setUp(mode: String = "secure") throws -> (SandboxHarness, data: String, profile: String) {
        let h = try SandboxHarness()
        let data = h.root + "/data"
        try h.write("existing.txt", "old\n", in: data)
        try h.write("gone.txt", "bye\n", in: data)
        let profile = h.root + "/profile.yaml"
        try h.write(
            "profile.yaml", "name: m\nmode: \(mode)\nsync:\n  interval: 1s\nmounts:\n  - {host: \(data), sandbox: /data, mode: overlay}\n", in: h.root)
        return (h, data, profile)
    }

    @Test(.enabled(if: SandboxHarness.namespacesAvailable, "needs user namespaces"))
    func diffShowsAndSyncGatesAndAppliesAMountsChanges() async throws {
        let (h, data, profile) = try Self.setUp()
        defer { h.cleanup() }
        let run = { (script: String) async throws -> String in
            let r = try await h.cordon(["run", "--profile", profile, "--workspace", h.workspace, "--name", "m", "--", "/bin/sh", "-c", script])
            #expect(r.status == 0, "\(r.stderr)")
            return r.stderr
        }
        let first = try await run("echo new > /data/new.txt && echo changed > /data/existing.txt && rm /data/gone.txt && echo ws > /workspace/w.txt")
        #expect(Self.read(data + "/existing.txt") == "old\n", "the run itself wrote the host directory")
        // The run's summary counts the mount's changes with the workspace's.
        #expect(first.contains("2 added, 1 modified, 1 deleted, held for review: cordon diff m"), "\(first)")

        let diff = try await h.cordon(["diff", "m"])
        #expect(diff.status == 0, "\(diff.stderr)")
        for line in ["A /data/new.txt", "M /data/existing.txt", "D /data/gone.txt", "A w.txt"] {
            #expect(diff.stdout.contains(line), "\(line) missing: \(diff.stdout)")
        }
        let diffJSON = try Self.json(try await h.cordon(["diff", "m", "--json"]).stdout)
        let mount = try #require((diffJSON["mounts"] as? [[String: Any]])?.first)
        #expect(mount["mount"] as? String == "/data")
        #expect(mount["host"] as? String == data)
        #expect(Set((mount["changes"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }) == ["new.txt", "existing.txt", "gone.txt"])
        #expect((diffJSON["changes"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String } == ["w.txt"])

        let sync = try await h.cordon(["sync", "m"])
        #expect(sync.status == 0, "\(sync.stdout)\(sync.stderr)")
        #expect(sync.stdout.contains("applied 4 changes to \(h.workspace) and \(data)"), "\(sync.stdout)")
        #expect(Self.read(data + "/new.txt") == "new\n")
        #expect(Self.read(data + "/existing.txt") == "changed\n")
        #expect(!FileManager.default.fileExists(atPath: data + "/gone.txt"))
        #expect(Self.read(h.workspace + "/w.txt") == "ws\n")
        #expect(!FileManager.default.fileExists(atPath: h.workspace + "/new.txt"), "a mount's change landed in the workspace")
        #expect(try await h.cordon(["diff", "m"]).stdout.contains("m: no changes"))

        // A secret under the mount is held by the same gate, and holds the whole change set.
        _ = try await run("echo 'GITHUB_TOKEN=\(Self.token)' > /data/creds.txt && echo more > /data/more.txt && echo ws2 > /workspace/w2.txt")
        let held = try await h.cordon(["sync", "m"])
        #expect(held.status == 1, "\(held.stdout)")
        #expect(held.stdout.contains("/data/creds.txt:1:"), "\(held.stdout)")
        #expect(held.stdout.contains("[github-token]"), "\(held.stdout)")
        #expect(held.stdout.contains("fix: remove the secret from /data/creds.txt"), "\(held.stdout)")
        #expect(!FileManager.default.fileExists(atPath: data + "/more.txt"))
        #expect(!FileManager.default.fileExists(atPath: h.workspace + "/w2.txt"))
        let partial = try Self.json(try await h.cordon(["sync", "m", "--partial", "--json"]).stdout)
        let mountReport = try #require((partial["mounts"] as? [[String: Any]])?.first)
        #expect(mountReport["held"] as? [String] == ["creds.txt"])
        #expect(mountReport["applied"] as? [String] == ["more.txt"])
        #expect(((mountReport["findings"] as? [[String: Any]])?.first)?["rule_id"] as? String == "github-token")
        #expect(partial["applied"] as? [String] == ["w2.txt"])
        #expect(Self.read(data + "/more.txt") == "more\n")
        #expect(!FileManager.default.fileExists(atPath: data + "/creds.txt"), "the secret reached the mount's host directory")
    }

    /// The mount's host directory is hostile-adjacent: a directory there replaced by a symlink
    /// (here by the user, after the run) is never written through.
    @Test(.enabled(if: SandboxHarness.namespacesAvailable, "needs user namespaces"))
    func aSyncNeverWritesThroughASymlinkInTheMountsHostDirectory() async throws {
        let (h, data, profile) = try Self.setUp()
        defer { h.cleanup() }
        try FileManager.default.createDirectory(atPath: data + "/sub", withIntermediateDirectories: true)
        let r = try await h.cordon([
            "run", "--profile", profile, "--workspace", h.workspace, "--name", "m", "--", "/bin/sh", "-c", "echo x > /data/sub/planted.txt",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let victims = h.root + "/victims"
        try FileManager.default.createDirectory(atPath: victims, withIntermediateDirectories: true)
        try FileManager.default.removeItem(atPath: data + "/sub")
        try FileManager.default.createSymbolicLink(atPath: data + "/sub", withDestinationPath: victims)
        let sync = try await h.cordon(["sync", "m", "--yes", "--force", "--partial"])
        #expect(sync.status == 1, "\(sync.stdout)\(sync.stderr)")
        #expect(sync.stdout.contains("fs-host-symlink"), "\(sync.stdout)")
        #expect(!FileManager.default.fileExists(atPath: victims + "/planted.txt"), "the sync wrote through a symlink in the mount's host directory")
    }

    /// An apply to a mount interrupted by a crash is completed by the next sync, from the
    /// mount's own journal.
    @Test(.enabled(if: SandboxHarness.namespacesAvailable, "needs user namespaces"))
    func anInterruptedApplyToAMountIsCompletedByTheNextSync() async throws {
        let (h, data, profile) = try Self.setUp()
        defer { h.cleanup() }
        let r = try await h.cordon(["run", "--profile", profile, "--workspace", h.workspace, "--name", "m", "--", "/bin/sh", "-c", "echo a > /data/a.txt"])
        #expect(r.status == 0, "\(r.stderr)")
        let layout = SandboxLayout(directory: h.state + "/cordon/sandboxes/m")
        let record = try layout.loadRecord()
        let target = try #require(try SyncTarget.all(record: record, layout: layout).last)
        #expect(target.mount?.sandbox == "/data")
        var applier = SyncApplier(workspace: target.host, upper: target.upper, journalPath: target.journal)
        applier.checkpoint = { step throws(CordonError) in if step == "committing" { throw CordonError(.io, "crash") } }
        let set = try target.changeSet()
        #expect(throws: CordonError.self) { try applier.apply(set.changes) }
        #expect(FileManager.default.fileExists(atPath: target.journal))
        #expect(!FileManager.default.fileExists(atPath: data + "/a.txt"))

        let sync = try await h.cordon(["sync", "m"])
        #expect(sync.status == 0, "\(sync.stdout)\(sync.stderr)")
        #expect(sync.stdout.contains("/data (host \(data)): completed an interrupted sync (1 change)"), "\(sync.stdout)")
        #expect(Self.read(data + "/a.txt") == "a\n")
        #expect(!FileManager.default.fileExists(atPath: target.journal))
    }

    /// yolo's rounds apply a clean change under an overlay mount to its host directory, and hold
    /// a flagged one.
    @Test(.enabled(if: SandboxHarness.namespacesAvailable, "needs user namespaces"))
    func yoloSyncCoversOverlayMounts() async throws {
        let (h, data, profile) = try Self.setUp(mode: "yolo")
        defer { h.cleanup() }
        let r = try await h.cordon([
            "run", "--profile", profile, "--workspace", h.workspace, "--name", "y", "--", "/bin/sh", "-c", "echo y > /data/y.txt && sleep 2.5",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Self.read(data + "/y.txt") == "y\n", "yolo sync left the mount's change behind: \(r.stderr)")

        let held = try await h.cordon([
            "run", "--profile", profile, "--workspace", h.workspace, "--name", "y", "--", "/bin/sh", "-c",
            "echo 'GITHUB_TOKEN=\(Self.token)' > /data/creds.txt && echo ws > /workspace/ws.txt",
        ])
        #expect(held.status == 0, "\(held.stderr)")
        #expect(!FileManager.default.fileExists(atPath: data + "/creds.txt"))
        #expect(!FileManager.default.fileExists(atPath: h.workspace + "/ws.txt"), "a held mount must hold the workspace's changes too")
        #expect(held.stderr.contains("cordon sync y"), "\(held.stderr)")
    }
}
