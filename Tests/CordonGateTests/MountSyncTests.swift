import CordonCore
import CordonFS
import CordonGate
import CordonOS
import CordonScan
import CordonTestSupport
import Foundation
import Glibc
import Testing

/// Writes under a `mounts[]` entry with `mode: overlay` are changes like the workspace's: the
/// targets a sync covers, how their paths are shown, and yolo's rounds over all of them.
@Suite(.timeLimit(.minutes(2))) struct MountSyncTests {
    static let secret = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"

    static func record(mounts: [SandboxRecord.OverlayMount], workspace: String = "/w") -> SandboxRecord {
        SandboxRecord(name: "s", profile: "p", mode: "secure", workspace: workspace, overlayMounts: mounts, created: "2026-01-01T00:00:00Z")
    }

    @Test func theTargetsAreTheWorkspaceThenEachOverlayMountInItsOwnLayer() throws {
        let layout = SandboxLayout(directory: "/state/cordon/sandboxes/s")
        // The stored upper names the state home as it was spelled at the run: the layer is found by its place.
        let record = Self.record(mounts: [
            .init(host: "/home/u/data", sandbox: "/data", upper: "/other//spelling/sandboxes/s/mounts/2/upper"),
            .init(host: "/srv/x", sandbox: "/", upper: layout.directory + "/mounts/0/upper"),
        ])
        let targets = try SyncTarget.all(record: record, layout: layout)
        #expect(targets.map(\.host) == ["/w", "/home/u/data", "/srv/x"])
        #expect(targets[0].upper == layout.upper && targets[0].journal == layout.syncJournal && targets[0].hostWrites == layout.hostWrites)
        #expect(targets[1].upper == layout.directory + "/mounts/2/upper")
        #expect(targets[1].journal == layout.directory + "/mounts/2/sync-journal.json")
        #expect(targets[1].hostWrites == layout.directory + "/mounts/2/host-writes.json")
        #expect(targets[1].snapshot == layout.directory + "/mounts/2/snapshot")
        #expect(targets[0].shown("src/a.txt") == "src/a.txt")
        #expect(targets[1].shown("x/y.txt") == "/data/x/y.txt")
        #expect(targets[1].shown("") == "/data")
        #expect(targets[2].shown("y") == "/y")
    }

    /// A record whose mount names an upper outside the layout (`mounts/N/upper`) is refused:
    /// nothing is read from, or applied out of, a directory cordon did not make.
    @Test(arguments: ["/etc/upper", "/state/mounts/../../upper", "/state/mounts/x/upper", "/state/mounts/1/work", "/state/mounts/01/upper"])
    func aMountLayerCordonDidNotLayOutIsRefused(upper: String) {
        let layout = SandboxLayout(directory: "/state")
        let record = Self.record(mounts: [.init(host: "/home/u/data", sandbox: "/data", upper: upper)])
        #expect(throws: CordonError.self) { try SyncTarget.all(record: record, layout: layout) }
    }

    final class Fixture {
        let workspace: TempTree
        let data: TempTree
        let state: TempTree
        let layout: SandboxLayout
        let sync: AutoSync
        var dataUpper: String { layout.directory + "/mounts/0/upper" }

        init() throws {
            workspace = try TempTree()
            data = try TempTree()
            state = try TempTree()
            workspace.write("main.py", "print('v1')\n")
            data.write("notes.txt", "old\n")
            layout = SandboxLayout(directory: state.root)
            state.mkdir("upper")
            state.mkdir("mounts/0/upper")
            usleep(20_000)  // file times come from the kernel's coarse clock: stay clear of `created`
            let record = MountSyncTests.record(
                mounts: [.init(host: data.root, sandbox: "/data", upper: layout.directory + "/mounts/0/upper")], workspace: workspace.root)
            sync = try AutoSync.forSandbox(
                record: record, layout: layout, paths: CordonPaths(configHome: state.path("config"), stateHome: state.path("statehome")),
                policy: GatePolicy(), scannerCache: nil, created: Date())
        }
    }

    @Test func yoloRoundsApplyAMountsChangesToItsHostDirectory() throws {
        let f = try Fixture()
        f.state.write("upper/main.py", "print('v2')\n")
        f.state.write("mounts/0/upper/notes.txt", "new\n")
        f.state.write("mounts/0/upper/sub/added.txt", "added\n")
        let round = try f.sync.round(overlayMounted: true)
        #expect(Set(round.applied) == ["main.py", "/data/notes.txt", "/data/sub", "/data/sub/added.txt"], "\(round)")
        #expect(f.workspace.read("main.py") == "print('v2')\n")
        #expect(f.data.read("notes.txt") == "new\n")
        #expect(f.data.read("sub/added.txt") == "added\n")
        #expect(!f.workspace.exists("notes.txt") && !f.workspace.exists("sub"), "a mount's change landed in the workspace")
        // After the run, applied entries leave the mount's upper too.
        _ = try f.sync.finish()
        #expect(f.state.read("mounts/0/upper/notes.txt") == nil)
        #expect(try FileInfo.lstat(f.dataUpper + "/snapshot") == nil)
    }

    /// One flagged entry under a mount holds the whole change set, the workspace's too.
    @Test func aSecretUnderAMountHoldsEverything() throws {
        let f = try Fixture()
        f.state.write("upper/main.py", "print('v2')\n")
        f.state.write("mounts/0/upper/deploy.sh", "export GITHUB_TOKEN=\(Self.secret)\n")
        let round = try f.sync.round(overlayMounted: true)
        #expect(round.applied.isEmpty)
        #expect(round.held.contains("/data/deploy.sh"), "\(round.held)")
        #expect(round.findings.contains { $0.ruleID == "github-token" && $0.path == "/data/deploy.sh" })
        #expect(f.workspace.read("main.py") == "print('v1')\n")
        #expect(f.data.read("deploy.sh") == nil)
    }

    /// The mount's host directory is anchored like the workspace: a symlink there (made on the
    /// host) is never written through.
    @Test func aSymlinkInTheMountsHostDirectoryIsNeverFollowed() throws {
        let f = try Fixture()
        let victims = try TempTree()
        #expect(symlink(victims.root, f.data.path("sub")) == 0)
        f.state.write("mounts/0/upper/sub/planted.txt", "x\n")
        let round = try f.sync.round(overlayMounted: false)
        #expect(round.applied.isEmpty)
        #expect(round.findings.contains { $0.ruleID == "fs-host-symlink" && $0.path == "/data/sub/planted.txt" }, "\(round.findings)")
        #expect(!victims.exists("planted.txt"))
    }
}
