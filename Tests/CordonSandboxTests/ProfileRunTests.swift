import CordonTestSupport
import Foundation
import Glibc
import Testing

/// `cordon run --profile`: limits and settings from a profile reach the sandbox.
@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"), .timeLimit(.minutes(5)))
struct ProfileRunTests {
    @Test(.enabled(if: SandboxHarness.isRoot, "cgroup limits need a delegated cgroup; rootless falls back to rlimits"))
    func aMemoryHogIsOOMKilledInsideItsCgroup() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("profile.yaml", "name: small\nresources:\n  memory: 64m\n", in: h.root)
        let hog = "x = bytearray(512 * 1024 * 1024)\nprint('survived', flush=True)"
        let r = try await h.cordon(["run", "--profile", h.root + "/profile.yaml", "--name", "hog", "--", "/usr/bin/python3", "-c", hog])
        #expect(r.status == 137, "\(r.stdout) \(r.stderr)")
        #expect(!r.stdout.contains("survived"))
        #expect(r.stderr.contains("OOM kill"))
        #expect(try await SandboxHarness.run(["/bin/true"], environment: nil).status == 0, "the host lives")
    }

    @Test func aProfilePidsLimitStopsAForkBomb() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("profile.yaml", "name: tiny\nresources:\n  pids: 40\n", in: h.root)
        let bomb =
            "import os, time\nn = 0\ntry:\n    while n < 1000:\n        if os.fork() == 0:\n            time.sleep(20); os._exit(0)\n        n += 1\nexcept OSError as e:\n    print('refused', n, flush=True)"
        let r = try await h.cordon(["run", "--profile", h.root + "/profile.yaml", "--name", "bomb", "--", "/usr/bin/python3", "-c", bomb])
        #expect(r.stdout.hasPrefix("refused "), "\(r.stdout) \(r.stderr)")
        let forked = Int(r.stdout.split(separator: " ").dropFirst().first?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 9999
        #expect(forked < 40)
    }

    /// An agent opening descriptors in every process it may fork must not fill the host's file
    /// table (ENFILE for every unprivileged open on the host): each process gets an equal part of
    /// half of it, and cannot raise that.
    @Test func aProcessesOpenFilesAreBoundedSoTheSandboxCannotFillTheHostsFileTable() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let fileMax = try #require(UInt64(String(contentsOfFile: "/proc/sys/fs/file-max", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        try h.write("profile.yaml", "name: files\nresources:\n  pids: 100\n", in: h.root)
        let probe = """
            import resource
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (hard + 1, hard + 1)); raised = "raised"
            except (ValueError, OSError):
                raised = "refused"
            print(soft, hard, raised, flush=True)
            """
        let r = try await h.cordon(["run", "--profile", h.root + "/profile.yaml", "--name", "files", "--", "/usr/bin/python3", "-c", probe])
        let fields = r.stdout.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        try #require(fields.count == 3, "\(r.stdout) \(r.stderr)")
        let hard = try #require(UInt64(fields[1]))
        #expect(UInt64(fields[0]) == hard)
        #expect(hard * 100 <= max(fileMax / 2, 64 * 100), "100 processes × \(hard) against a table of \(fileMax)")
        #expect(fields[2] == "refused")
    }

    @Test func profileEnvironmentIsExplicit() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("profile.yaml", "name: envy\nenv:\n  FOO: bar\n", in: h.root)
        let r = try await h.cordon(
            ["run", "--profile", h.root + "/profile.yaml", "--name", "env", "--", "/bin/sh", "-c", "echo $FOO; echo ${HOSTONLY:-unset}"],
            extraEnvironment: ["HOSTONLY": "leak"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "bar\nunset\n")
    }

    @Test func aBadProfileGivesAPreciseErrorAndRunsNothing() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("bad.yaml", "name: bad\nresources:\n  memroy: 1g\n", in: h.root)
        let r = try await h.cordon(["run", "--profile", h.root + "/bad.yaml", "--name", "bad", "--", "/bin/sh", "-c", "touch /workspace/ran"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("bad.yaml:3:3: resources.memroy: unknown field \"memroy\""), "\(r.stderr)")
        #expect(r.stderr.contains("did you mean \"memory\""))
        #expect(!FileManager.default.fileExists(atPath: h.state + "/cordon/sandboxes/bad/upper/ran"))
    }

    /// yolo: clean changes reach the host during the run (twice for a file edited twice: cordon's
    /// own earlier write is no conflict), deletions propagate, a secret is held and said, and after
    /// the run applied entries leave the upper while the held one stays for `cordon sync`.
    ///
    /// The command waits on a FIFO (bound read-only from the host) between its writes, and the test
    /// lets it go on only once the host has the previous version: no sleeps that a loaded machine
    /// (a slow first round while the gate compiles) can outrun.
    @Test func yoloSyncsCleanChangesDuringTheRunAndHoldsASecret() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("old.txt", "obsolete\n", in: h.workspace)
        let signals = h.root + "/signals"
        try FileManager.default.createDirectory(atPath: signals, withIntermediateDirectories: true)
        // One FIFO per step: a writer of the first step still closing (the test preempted between
        // its write and its close) must not be the second step's writer, whose read would then
        // get EOF (seen under load).
        #expect(mkfifo(signals + "/go1", 0o666) == 0 && mkfifo(signals + "/go2", 0o666) == 0)
        try h.write("profile.yaml", "name: fast\nmode: yolo\nsync:\n  interval: 1s\nmounts:\n  - {host: \(signals), sandbox: /signals}\n", in: h.root)
        let token = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
        let script = """
            cd /workspace && echo v1 > clean.txt && rm old.txt && read a < /signals/go1 && echo v2 > clean.txt \
            && read b < /signals/go2 && echo "GITHUB_TOKEN=\(token)" > leak.env.txt && sleep 2.5
            """
        async let run = h.cordon(["run", "--profile", h.root + "/profile.yaml", "--workspace", h.workspace, "--name", "yolo", "--", "/bin/sh", "-c", script])
        /// Waits until the host's clean.txt holds `version`, then lets the command go on.
        func proceed(once version: String, signal fifo: String) async throws {
            var reached = false
            for _ in 0..<600 where !reached {
                reached = (try? String(contentsOfFile: h.workspace + "/clean.txt", encoding: .utf8)) == version + "\n"
                if !reached { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(reached, "the host never got \(version)")
            do { try await SandboxHarness.signal(signals + "/" + fifo) } catch { Issue.record("the command never waited for \(version)'s signal") }
        }
        try await proceed(once: "v1", signal: "go1")
        try await proceed(once: "v2", signal: "go2")
        let r = try await run
        #expect(r.status == 0, "\(r.stderr)")
        #expect((try? String(contentsOfFile: h.workspace + "/clean.txt", encoding: .utf8)) == "v2\n")
        #expect(!FileManager.default.fileExists(atPath: h.workspace + "/old.txt"), "the deletion propagated")
        #expect(!FileManager.default.fileExists(atPath: h.workspace + "/leak.env.txt"), "the secret stayed in the sandbox")
        #expect(r.stderr.contains("yolo sync is holding 1 change ("), "\(r.stderr)")
        #expect(r.stderr.contains("github-token") && r.stderr.contains("review with `cordon sync yolo`"), "\(r.stderr)")
        #expect(r.stderr.contains("yolo sync applied 3 changes to the host; 1 added, held for review: cordon sync yolo"), "\(r.stderr)")
        let upper = h.state + "/cordon/sandboxes/yolo/upper"
        #expect(FileManager.default.fileExists(atPath: upper + "/leak.env.txt"))
        #expect(!FileManager.default.fileExists(atPath: upper + "/clean.txt"), "applied entries left the upper after the run")
        let events = (try? String(contentsOfFile: h.state + "/cordon/sandboxes/yolo/events.jsonl", encoding: .utf8)) ?? ""
        let syncs = events.split(separator: "\n").filter { $0.contains("\"event\":\"sync\"") }
        #expect(syncs.filter { $0.contains("\"applied\":[") && $0.contains("\"clean.txt\"") }.count == 2, "\(syncs)")
        #expect(syncs.contains { $0.contains("\"held\":[\"leak.env.txt\"]") })
    }

    @Test func dataDirectoriesPersistAcrossRuns() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("profile.yaml", "name: agent\ndata:\n  - name: tool\n    path: ~/.tool\n", in: h.root)
        let first = try await h.cordon(["run", "--profile", h.root + "/profile.yaml", "--name", "d1", "--", "/bin/sh", "-c", "echo remembered > ~/.tool/state"])
        #expect(first.status == 0, "\(first.stderr)")
        let second = try await h.cordon(["run", "--profile", h.root + "/profile.yaml", "--name", "d2", "--", "/bin/sh", "-c", "cat ~/.tool/state"])
        #expect(second.stdout == "remembered\n", "\(second.stderr)")
    }
}

@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"), .timeLimit(.minutes(5)))
struct HostReadinessTests {
    @Test func doctorReportsEveryCheckAndThatTheDefaultProfileRuns() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let r = try await h.cordon(["doctor", "--json"])
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(report?["can_run_default"] as? Bool == true)
        let ids = (report?["checks"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []
        #expect(ids == ["user-namespaces", "seccomp", "landlock", "cgroups", "disk", "nftables", "kvm", "default-sandbox"])
        let disk = (report?["checks"] as? [[String: Any]])?.first { $0["id"] as? String == "disk" }
        #expect((disk?["detail"] as? String)?.hasPrefix("watched limit") == true, "the doctor says which enforcement this host gets")
    }

    @Test(.enabled(if: SandboxHarness.isRoot, "needs root to run as an unprivileged user"))
    func strictResourcesRefuseToStartWithoutCgroups() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("strict.yaml", "name: strict\nresources:\n  pids: 50\n  strict: true\n", in: h.root)
        _ = try await SandboxHarness.run(["/bin/chown", "-R", "65534:65534", h.root], environment: nil)
        _ = try await SandboxHarness.run(["/bin/chmod", "755", h.root], environment: nil)
        let r = try await SandboxHarness.run(
            [
                "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", SandboxHarness.cordon, "run", "--profile",
                h.root + "/strict.yaml",
                "--name", "strict", "--workspace", h.workspace, "--", "/bin/sh", "-c", "touch /workspace/ran",
            ],
            environment: h.environment(), directory: h.workspace)
        if r.status == 0 { return }  // this host delegates cgroups to unprivileged users: nothing to refuse
        #expect(r.status == 125)
        #expect(r.stderr.contains("cannot be enforced with cgroups"), "\(r.stderr)")
        #expect(r.stderr.contains("cordon doctor"))
        #expect(!FileManager.default.fileExists(atPath: h.state + "/cordon/sandboxes/strict/upper/ran"))
    }
}

struct RunArgumentTests {
    @Test(arguments: [["run", "--bogus", "--", "true"], ["run", "--nmae", "x", "--", "true"], ["run"]])
    func mistypedOptionsAreUsageErrorsNotCommands(arguments: [String]) async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let r = try await h.cordon(arguments)
        #expect(r.status == 64, "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: h.state + "/cordon/sandboxes"), "no sandbox may be created")
    }

    @Test func helpStillWorksForRun() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let r = try await h.cordon(["run", "--help"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("USAGE: cordon run"), "\(r.stdout)")
    }
}

@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"), .timeLimit(.minutes(5)))
struct ModeAndCopyTests {
    @Test func unsafeModeWritesThroughAndSaysSoLoudly() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let r = try await h.sandbox("echo direct > /workspace/direct.txt", name: "unsafe", options: ["--mode", "unsafe"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("WARNING: unsafe mode"))
        #expect(try String(contentsOfFile: h.workspace + "/direct.txt", encoding: .utf8) == "direct\n")
    }

    /// What `config validate` warns about is said when the sandbox starts, too.
    @Test func aReadWriteMountOfTheHomeIsSaidLoudlyAtEveryRun() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("profile.yaml", "name: wide\nmounts:\n  - {host: \(h.home), sandbox: /h, mode: rw}\n", in: h.root)
        let r = try await h.cordon(["run", "--profile", h.root + "/profile.yaml", "--workspace", h.workspace, "--name", "wide", "--", "true"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("WARNING: mounts[0]: mounts your home directory"), "\(r.stderr)")
    }

    @Test func copiedConfigIsEditableInsideAndNeverWrittenBack() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write(".gitconfig", "[user]\n\tname = host\n", in: h.home)
        try h.write("profile.yaml", "name: copier\ncopy:\n  - host: \(h.home)/.gitconfig\n    sandbox: ~/.gitconfig\n", in: h.root)
        let r = try await h.cordon([
            "run", "--profile", h.root + "/profile.yaml", "--name", "copy", "--", "/bin/sh", "-c",
            "cat ~/.gitconfig; echo '\tname = agent' >> ~/.gitconfig && echo edited",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("name = host") && r.stdout.contains("edited"), "\(r.stdout)")
        #expect(try String(contentsOfFile: h.home + "/.gitconfig", encoding: .utf8) == "[user]\n\tname = host\n")
    }
}
