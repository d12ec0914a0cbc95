import Foundation
import Glibc
import Testing

/// `cordon run --profile`: limits and settings from a profile reach the sandbox.
@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"))
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
        let bomb = "import os, time\nn = 0\ntry:\n    while n < 1000:\n        if os.fork() == 0:\n            time.sleep(20); os._exit(0)\n        n += 1\nexcept OSError as e:\n    print('refused', n, flush=True)"
        let r = try await h.cordon(["run", "--profile", h.root + "/profile.yaml", "--name", "bomb", "--", "/usr/bin/python3", "-c", bomb])
        #expect(r.stdout.hasPrefix("refused "), "\(r.stdout) \(r.stderr)")
        let forked = Int(r.stdout.split(separator: " ").dropFirst().first?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 9999
        #expect(forked < 40)
    }

    @Test func profileEnvironmentIsExplicit() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("profile.yaml", "name: envy\nenv:\n  FOO: bar\n", in: h.root)
        let r = try await h.cordon(["run", "--profile", h.root + "/profile.yaml", "--name", "env", "--", "/bin/sh", "-c", "echo $FOO; echo ${HOSTONLY:-unset}"],
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

@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"))
struct HostReadinessTests {
    @Test func doctorReportsEveryCheckAndThatTheDefaultProfileRuns() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let r = try await h.cordon(["doctor", "--json"])
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(report?["can_run_default"] as? Bool == true)
        let ids = (report?["checks"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []
        #expect(ids == ["user-namespaces", "seccomp", "landlock", "cgroups", "nftables", "kvm", "default-sandbox"])
    }

    @Test(.enabled(if: SandboxHarness.isRoot, "needs root to run as an unprivileged user"))
    func strictResourcesRefuseToStartWithoutCgroups() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("strict.yaml", "name: strict\nresources:\n  pids: 50\n  strict: true\n", in: h.root)
        _ = try await SandboxHarness.run(["/bin/chown", "-R", "65534:65534", h.root], environment: nil)
        _ = try await SandboxHarness.run(["/bin/chmod", "755", h.root], environment: nil)
        let r = try await SandboxHarness.run(
            ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", SandboxHarness.cordon, "run", "--profile", h.root + "/strict.yaml",
             "--name", "strict", "--workspace", h.workspace, "--", "/bin/sh", "-c", "touch /workspace/ran"],
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

@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"))
struct ModeAndCopyTests {
    @Test func unsafeModeWritesThroughAndSaysSoLoudly() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let r = try await h.sandbox("echo direct > /workspace/direct.txt", name: "unsafe", options: ["--mode", "unsafe"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("WARNING: unsafe mode"))
        #expect(try String(contentsOfFile: h.workspace + "/direct.txt", encoding: .utf8) == "direct\n")
    }

    @Test func copiedConfigIsEditableInsideAndNeverWrittenBack() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write(".gitconfig", "[user]\n\tname = host\n", in: h.home)
        try h.write("profile.yaml", "name: copier\ncopy:\n  - host: \(h.home)/.gitconfig\n    sandbox: ~/.gitconfig\n", in: h.root)
        let r = try await h.cordon(["run", "--profile", h.root + "/profile.yaml", "--name", "copy", "--", "/bin/sh", "-c",
                              "cat ~/.gitconfig; echo '\tname = agent' >> ~/.gitconfig && echo edited"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("name = host") && r.stdout.contains("edited"), "\(r.stdout)")
        #expect(try String(contentsOfFile: h.home + "/.gitconfig", encoding: .utf8) == "[user]\n\tname = host\n")
    }
}
