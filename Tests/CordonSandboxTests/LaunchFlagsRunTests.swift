import CordonTestSupport
import Foundation
import Glibc
import Testing

/// `cordon run`/`up` with the profile flags (`-e`, `--preset`, `--allow`, `--memory`, `--cpus`,
/// `--network`) on real sandboxes: each takes effect (the fast path hands them to ArgumentParser),
/// and `up` brings a sandbox back with them after `restart`.
@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"), .timeLimit(.minutes(5)))
struct LaunchFlagsRunTests {
    /// Allows loopback and pins allowed.test there, but lists no domain: only `--allow` opens it.
    static let closedProfile = """
        name: closed
        egress:
          allow_private: ["127.0.0.0/8"]
          resolve: {allowed.test: 127.0.0.1}
        """

    @Test func envFlagsSetValuesAndCopyOnlyTheNamedHostVariables() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("profile.yaml", "name: envy\nenv: {A: profile, KEEP: kept}\n", in: h.root)
        let r = try await h.cordon(
            [
                "run", "--name", "envs", "--workspace", h.workspace, "--profile", h.root + "/profile.yaml", "-e", "A=1", "-e", "B", "--env", "C", "--",
                "/bin/sh", "-c", "echo \"A=$A B=$B C=${C-unset} KEEP=$KEEP H=${HOSTONLY-unset}\"",
            ], extraEnvironment: ["B": "from host", "HOSTONLY": "leak"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "A=1 B=from host C=unset KEEP=kept H=unset\n")
    }

    @Test func allowOpensADomainTheProfileRefusesAndNetworkNoneClosesIt() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let server = try await LoopbackServer.start()
        defer { server.stop() }
        try h.write("profile.yaml", Self.closedProfile, in: h.root)
        let fetch = "curl -sS -m 20 -o /dev/null -w '%{http_code}' http://allowed.test:\(server.port)/; echo"
        let base = ["run", "--workspace", h.workspace, "--profile", h.root + "/profile.yaml"]
        let refused = try await h.cordon(base + ["--name", "closed", "--", "/bin/sh", "-c", fetch])
        #expect(refused.stdout == "403\n", "\(refused.stdout) \(refused.stderr)")
        let allowed = try await h.cordon(base + ["--name", "open", "--allow", "allowed.test:\(server.port)", "--", "/bin/sh", "-c", fetch])
        #expect(allowed.status == 0, "\(allowed.stderr)")
        #expect(allowed.stdout == "200\n", "\(allowed.stdout) \(allowed.stderr)")
        let offline = try await h.cordon(
            base + ["--name", "off", "--network", "none", "--allow", "allowed.test:\(server.port)", "--", "/bin/sh", "-c", fetch + "; env | grep -ci proxy"])
        #expect(offline.stdout.hasPrefix("000"), "\(offline.stdout) \(offline.stderr)")
        #expect(offline.stdout.hasSuffix("\n0\n"), "no proxy settings: \(offline.stdout)")
    }

    @Test func networkNoneLeavesOnlyLoopback() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let r = try await h.sandbox("cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '", name: "nonet", options: ["--network", "none"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "lo\n", "\(r.stdout)")
    }

    /// `--network host` keeps what the profile's `network: host` has: the loud warning at start.
    @Test func networkHostFromTheFlagWarnsAsTheProfileDoes() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let r = try await h.sandbox("true", name: "hostnet", options: ["--network", "host"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("WARNING: network: host"), "\(r.stderr)")
    }

    @Test func anUnknownPresetOrABadValueIsAClearErrorAndRunsNothing() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        for (options, message) in [
            (["--preset", "pythn"], "cordon: --preset pythn: unknown preset \"pythn\""),
            (["--allow", "exa mple.com"], "cordon: --allow exa mple.com: not a valid pattern"),
            (["--memory", "lots"], "cordon: --memory lots: not a valid size"),
            (["--cpus=-1"], "cordon: --cpus -1: expected a positive number"),
            (["-e", "1X=y"], "cordon: -e 1X=y: not a variable name"),
        ] {
            let r = try await h.sandbox("touch /workspace/ran", name: "bad", options: options)
            #expect(r.status == 125, "\(options): \(r.stdout) \(r.stderr)")
            #expect(r.stderr.hasPrefix(message), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: h.state + "/cordon/sandboxes/bad"))
        }
    }

    @Test func aPresetFlagComposesIntoTheProfile() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("config/cordon/presets/mine.yaml", "env: {FROM_PRESET: yes}\n", in: h.root)
        let r = try await h.sandbox("echo ${FROM_PRESET-unset}", name: "preset", options: ["--preset", "mine"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "yes\n")
    }

    /// The host-side directory of the sandbox's cgroup in `controller`'s hierarchy (nil: v2),
    /// once it exists (the sandbox is made under this process's own cgroup).
    static func cgroupDirectory(sandbox: String, controller: String?) -> String? {
        guard let own = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8) else { return nil }
        for line in own.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            let matches = controller.map { parts[1].split(separator: ",").contains(Substring($0)) } ?? (parts[0] == "0" && parts[1].isEmpty)
            guard matches else { continue }
            let path = parts[2] == "/" ? "" : String(parts[2])
            let parent = controller.map { "/sys/fs/cgroup/\($0)\(path)/cordon" } ?? "/sys/fs/cgroup\(path)"
            let prefix = controller == nil ? "cordon-\(sandbox)." : "\(sandbox)."
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []
            return entries.first { $0.hasPrefix(prefix) }.map { parent + "/" + $0 }
        }
        return nil
    }

    @Test(.enabled(if: SandboxHarness.isRoot, "cgroup limits need a delegated cgroup; rootless falls back to rlimits"))
    func memoryAndCpusFlagsSetTheSandboxesCgroup() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let signals = h.root + "/signals"
        try FileManager.default.createDirectory(atPath: signals, withIntermediateDirectories: true)
        #expect(mkfifo(signals + "/go", 0o666) == 0)
        try h.write("profile.yaml", "name: lim\nmounts:\n  - {host: \(signals), sandbox: /signals}\n", in: h.root)
        async let run = h.cordon([
            "run", "--name", "lim", "--workspace", h.workspace, "--profile", h.root + "/profile.yaml", "--memory", "64m", "--cpus", "0.5", "--",
            "/bin/sh", "-c", "read a < /signals/go",
        ])
        let v2 = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers")
        var memory: String?
        var cpu: String?
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if v2, let dir = Self.cgroupDirectory(sandbox: "lim", controller: nil) {
                memory = try? String(contentsOfFile: dir + "/memory.max", encoding: .utf8)
                cpu = try? String(contentsOfFile: dir + "/cpu.max", encoding: .utf8)
            } else if !v2, let memoryDir = Self.cgroupDirectory(sandbox: "lim", controller: "memory"),
                let cpuDir = Self.cgroupDirectory(sandbox: "lim", controller: "cpu")
            {
                memory = try? String(contentsOfFile: memoryDir + "/memory.limit_in_bytes", encoding: .utf8)
                cpu = try? String(contentsOfFile: cpuDir + "/cpu.cfs_quota_us", encoding: .utf8)
            }
            if memory != nil && cpu != nil { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        try await SandboxHarness.signal(signals + "/go")
        let r = try await run
        #expect(r.status == 0, "\(r.stderr)")
        #expect(memory == "67108864\n")
        #expect(cpu == (v2 ? "50000 100000\n" : "50000\n"))
    }

    /// `up` with flags: `exec` sees them, `restart` brings the sandbox back with them (the digest
    /// check does not call a flag a profile change), and no `-e` value is on any host process's
    /// command line.
    @Test func upFlagsSurviveRestart() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup(downing: ["flagged"]) }
        let secret = "s3cret-\(getpid())-value"
        let up = try await h.cordon(
            ["up", "--name", "flagged", "--workspace", h.workspace, "-e", "A=1", "-e", "TOKEN", "--network", "none", "--memory", "96m"],
            extraEnvironment: ["TOKEN": secret])
        #expect(up.status == 0, "\(up.stderr)")
        #expect(LifecycleTests.hostProcesses(containing: secret).isEmpty)
        let script = "echo \"A=$A TOKEN=$TOKEN\"; cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '"
        let expected = "A=1 TOKEN=\(secret)\nlo\n"
        let first = try await LifecycleTests.exec(h, "flagged", script)
        #expect(first.stdout == expected, "\(first.stdout) \(first.stderr)")
        // restart runs in another environment (no TOKEN): the recorded value comes back.
        let restart = try await h.cordon(["restart", "flagged"])
        #expect(restart.status == 0, "\(restart.stderr)")
        let second = try await LifecycleTests.exec(h, "flagged", script)
        #expect(second.stdout == expected, "\(second.stdout) \(second.stderr)")
        #expect(LifecycleTests.hostProcesses(containing: secret).isEmpty)
        let record = try String(contentsOfFile: h.state + "/cordon/sandboxes/flagged/up.json", encoding: .utf8)
        #expect(record.contains("\"network\": \"none\"") || record.contains("\"network\":\"none\""), "\(record)")
    }

    /// A user preset that `--preset` read counts in the "changed since up" digest, as a profile's
    /// own preset does: `restart` with the same flags and files goes, a preset edited since is refused.
    @Test func startRefusesAPresetFromAFlagChangedSinceUp() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup(downing: ["presetup"]) }
        try h.write("config/cordon/presets/mine.yaml", "env: {FROM_PRESET: one}\n", in: h.root)
        let up = try await h.cordon(["up", "--name", "presetup", "--workspace", h.workspace, "--preset", "mine"])
        #expect(up.status == 0, "\(up.stderr)")
        #expect(try await LifecycleTests.exec(h, "presetup", "echo $FROM_PRESET").stdout == "one\n")
        let restart = try await h.cordon(["restart", "presetup"])
        #expect(restart.status == 0, "\(restart.stderr)")
        #expect(try await LifecycleTests.exec(h, "presetup", "echo $FROM_PRESET").stdout == "one\n")
        #expect((try await h.cordon(["down", "presetup"])).status == 0)
        try h.write("config/cordon/presets/mine.yaml", "env: {FROM_PRESET: two}\n", in: h.root)
        let start = try await h.cordon(["start", "presetup"])
        #expect(start.status != 0 && start.stderr.contains("changed since `cordon up`"), "\(start.stderr)")
    }
}
