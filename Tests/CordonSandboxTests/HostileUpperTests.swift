import CordonTestSupport
import Foundation
import Glibc
import Testing

/// Everything the agent wrote is hostile on every host-side path: attacks on the clean-up after a
/// yolo run and on a sync of a running sandbox, from inside a real sandbox.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct HostileUpperTests {
    static let token = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"

    static func waitFor(_ what: String, _ condition: () -> Bool) async throws {
        for _ in 0..<600 {
            if condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("timed out waiting for \(what)")
    }

    /// The attack found from inside: a file a yolo round applied (cordon remembers the host entry it
    /// wrote), then its directory replaced by a symlink to a host directory holding a file of the same
    /// name, mode and content. The clean-up at the end of the run compared and removed
    /// upper/d/victim.txt through that symlink: the host file was deleted.
    @Test(.enabled(if: SandboxHarness.namespacesAvailable, "needs user namespaces"))
    func yoloCleanUpNeverDeletesThroughASymlinkTheAgentLeft() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let victims = h.root + "/victims"
        try h.write("victim.txt", "the user's file\n", in: victims)
        chmod(victims + "/victim.txt", 0o644)
        let signals = h.root + "/signals"
        try FileManager.default.createDirectory(atPath: signals, withIntermediateDirectories: true)
        #expect(mkfifo(signals + "/go", 0o666) == 0)
        try h.write("profile.yaml", "name: fast\nmode: yolo\nsync:\n  interval: 1s\nmounts:\n  - {host: \(signals), sandbox: /signals}\n", in: h.root)
        let script = """
            cd /workspace && umask 022 && mkdir d && printf "the user's file\\n" > d/victim.txt && read a < /signals/go \
            && rm -rf d && ln -s \(victims) d
            """
        async let run = h.cordon(["run", "--profile", h.root + "/profile.yaml", "--workspace", h.workspace, "--name", "yolo", "--", "/bin/sh", "-c", script])
        try await Self.waitFor("the first round to apply d/victim.txt") { FileManager.default.fileExists(atPath: h.workspace + "/d/victim.txt") }
        try await SandboxHarness.signal(signals + "/go")
        let r = try await run
        #expect(r.status == 0, "\(r.stderr)")
        #expect(
            (try? String(contentsOfFile: victims + "/victim.txt", encoding: .utf8)) == "the user's file\n",
            "the clean-up deleted a host file through the agent's symlink")
        // The symlink itself is held (it leads outside), never applied.
        var st = stat()
        #expect(lstat(h.workspace + "/d", &st) != 0 || (st.st_mode & S_IFMT) != S_IFLNK, "the escaping symlink reached the host")
    }

    /// yolo mode synced the agent's edit of /workspace/cordon.yaml, and the next run mounted a
    /// host directory read-write. The profile in use (and the files it names) never syncs.
    @Test(.enabled(if: SandboxHarness.namespacesAvailable, "needs user namespaces"))
    func theProfileInUseNeverSyncsEvenInYoloMode() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let profile = "name: fast\nmode: yolo\nsync:\n  interval: 1s\n"
        try h.write("cordon.yaml", profile, in: h.workspace)
        let script = """
            cd /workspace && printf 'mounts:\\n  - {host: /, sandbox: /host, mode: rw}\\n' >> cordon.yaml && echo v1 > clean.txt && sleep 2.5
            """
        // An in-workspace profile runs once its content is trusted.
        let trusted = try await h.cordon(["trust", h.workspace + "/cordon.yaml"])
        #expect(trusted.status == 0, "\(trusted.stderr)")
        let r = try await h.cordon([
            "run", "--profile", h.workspace + "/cordon.yaml", "--workspace", h.workspace, "--name", "self", "--", "/bin/sh", "-c", script,
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect((try? String(contentsOfFile: h.workspace + "/cordon.yaml", encoding: .utf8)) == profile, "the agent edited its own profile on the host")
        #expect(r.stderr.contains("policy-protected"), "\(r.stderr)")
        // A manual sync, even with --yes --force, holds it too.
        let sync = try await h.cordon(["sync", "self", "--yes", "--force", "--partial"])
        #expect(sync.status == 1, "\(sync.stdout)\(sync.stderr)")
        #expect(sync.stdout.contains("policy-protected"), "\(sync.stdout)")
        #expect((try? String(contentsOfFile: h.workspace + "/cordon.yaml", encoding: .utf8)) == profile)
        #expect((try? String(contentsOfFile: h.workspace + "/clean.txt", encoding: .utf8)) == "v1\n", "--partial applies the rest")
    }

    /// A sandbox name on the command line is a name, never a path: `../x` reaches no directory
    /// beside the sandboxes, and an unknown name is said plainly.
    @Test(arguments: [["diff", "../x"], ["sync", "../x"], ["net", "log", "../x"], ["approvals", "../x"], ["sync", "a/b"]])
    func aSandboxNameIsNeverAPath(arguments: [String]) async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let r = try await h.cordon(arguments)
        #expect(r.status == 2, "\(r)")
        #expect(r.stderr.contains("invalid sandbox name"), "\(r.stderr)")
    }

    @Test func syncOfAnUnknownSandboxSaysSo() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let r = try await h.cordon(["sync", "nosuch"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("no sandbox named \"nosuch\""), "\(r.stderr)")
    }

    /// `cordon sync --auto` of a running sandbox while the agent flips a file between a clean text
    /// and a secret as fast as it can: whatever a sync applies is what its gate checked, so the
    /// secret never reaches the host (it applied the secret before syncs scanned a snapshot).
    @Test(.enabled(if: SandboxHarness.namespacesAvailable, "needs user namespaces"))
    func syncOfARunningSandboxAppliesExactlyWhatItChecked() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let signals = h.root + "/signals"
        try FileManager.default.createDirectory(atPath: signals, withIntermediateDirectories: true)
        let secret = "GITHUB_TOKEN=\(Self.token)"
        let script = """
            cd /workspace && echo started > started.txt; \
            while [ ! -e /signals/stop ]; do echo harmless > creds.txt; echo '\(secret)' > creds.txt; done
            """
        try h.write("profile.yaml", "name: race\nmounts:\n  - {host: \(signals), sandbox: /signals}\n", in: h.root)
        async let run = h.cordon(["run", "--profile", h.root + "/profile.yaml", "--workspace", h.workspace, "--name", "race", "--", "/bin/sh", "-c", script])
        let upper = h.state + "/cordon/sandboxes/race/upper"
        try await Self.waitFor("the sandbox to start writing") { FileManager.default.fileExists(atPath: upper + "/creds.txt") }
        var applied = 0
        for _ in 0..<25 {
            let sync = try await h.cordon(["sync", "race", "--auto", "--json"])
            #expect(sync.status == 0 || sync.status == 1, "\(sync.stderr)")
            if sync.stdout.contains("\"creds.txt\"") && sync.status == 0 { applied += 1 }
            let host = (try? String(contentsOfFile: h.workspace + "/creds.txt", encoding: .utf8)) ?? ""
            #expect(!host.contains(Self.token), "a sync applied the secret it had not checked")
            if host.contains(Self.token) { break }
        }
        try h.write("stop", "", in: signals)
        let r = try await run
        #expect(r.status == 0, "\(r.stderr)")
        let host = (try? String(contentsOfFile: h.workspace + "/creds.txt", encoding: .utf8)) ?? ""
        #expect(!host.contains(Self.token))
        #expect(!FileManager.default.fileExists(atPath: h.state + "/cordon/sandboxes/race/snapshot"), "a sync's snapshot was left behind")
    }

    /// A sync of the running sandbox leaves what it applied in the upper (it is mounted). The
    /// agent works on: the file changes again in the sandbox, and the next sync applies it instead
    /// of holding cordon's own earlier write as a change on the host. A change the user makes on
    /// the host is still a conflict.
    @Test(.enabled(if: SandboxHarness.namespacesAvailable, "needs user namespaces"))
    func cordonsOwnWriteIsNoConflictButTheUsersIs() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let signals = h.root + "/signals"
        try FileManager.default.createDirectory(atPath: signals, withIntermediateDirectories: true)
        try h.write("a.txt", "zero\n", in: h.workspace)
        let script = """
            cd /workspace && echo one > a.txt && echo 1 > step; \
            while [ ! -e /signals/two ]; do sleep 0.05; done; echo two > a.txt && echo 2 > step; \
            while [ ! -e /signals/three ]; do sleep 0.05; done; echo three > a.txt && echo 3 > step; \
            while [ ! -e /signals/stop ]; do sleep 0.05; done
            """
        try h.write("profile.yaml", "name: work\nmounts:\n  - {host: \(signals), sandbox: /signals}\n", in: h.root)
        async let run = h.cordon(["run", "--profile", h.root + "/profile.yaml", "--workspace", h.workspace, "--name", "work", "--", "/bin/sh", "-c", script])
        let step = h.state + "/cordon/sandboxes/work/upper/step"
        func waitForStep(_ n: String) async throws {
            try await Self.waitFor("step \(n)") { (try? String(contentsOfFile: step, encoding: .utf8)) == n + "\n" }
        }
        func host() -> String { (try? String(contentsOfFile: h.workspace + "/a.txt", encoding: .utf8)) ?? "" }

        try await waitForStep("1")
        let first = try await h.cordon(["sync", "work", "--auto"])
        #expect(first.status == 0, "\(first.stdout) \(first.stderr)")
        #expect(host() == "one\n")

        try h.write("two", "", in: signals)
        try await waitForStep("2")
        let second = try await h.cordon(["sync", "work", "--auto"])
        #expect(second.status == 0, "cordon's own write was held as a host change: \(second.stdout) \(second.stderr)")
        #expect(!second.stdout.contains("conflict-host-changed"), "\(second.stdout)")
        #expect(host() == "two\n")

        // The user edits the file on the host: the agent's next change to it is a conflict.
        try h.write("a.txt", "the user's\n", in: h.workspace)
        try h.write("three", "", in: signals)
        try await waitForStep("3")
        let third = try await h.cordon(["sync", "work", "--auto"])
        #expect(third.status == 1, "\(third.stdout) \(third.stderr)")
        #expect(third.stdout.contains("conflict-host-changed"), "\(third.stdout)")
        #expect(host() == "the user's\n")

        try h.write("stop", "", in: signals)
        let r = try await run
        #expect(r.status == 0, "\(r.stderr)")
    }
}
