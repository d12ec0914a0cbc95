import CordonConfig
import CordonCore
import CordonIsolation
import CordonSandbox
import Testing

/// The binary form cordon-init reads its plan in: every field survives the trip, and input that
/// is not a whole plan from this build is refused with a reason, never half-read.
struct SandboxPlanWireTests {
    /// A plan with every kind of step, optional and network.
    static let everything = SandboxPlan(
        root: "/state/sandboxes/t/root", hostname: "t",
        steps: [
            .directory(target: "/var/tmp", mode: 0o1777),
            .tmpfs(target: "/tmp", mode: 0o1777, sizeBytes: 2 << 30),
            .tmpfs(target: "/dev", mode: 0o755, sizeBytes: nil),
            .bind(source: "/usr", target: "/usr", readOnly: true),
            .overlay(lower: "/home/alice/pro,ject:x", upper: "/state/u", work: "/state/w", target: "/workspace"),
            .proc(target: "/proc"),
            .devpts(target: "/dev/pts"),
            .symlink(target: "/bin", destination: "usr/bin"),
            .file(target: "/etc/motd", contents: "héllo\n\u{0}zero", mode: 0o644),
            .copy(source: "/home/alice/.gitconfig", target: "/home/agent/.gitconfig", optional: true),
            .mask(target: "/home/alice/project/.env"),
            .remountReadOnly(target: "/dev"),
            .cover(target: "/etc/machine-id", contents: "0123456789abcdef0123456789abcdef\n", mode: 0o444),
        ],
        user: .init(uid: 1000, gid: 1001, name: "agent", home: "/home/agent"),
        writable: ["/tmp", "/workspace"], writeFiles: ["/dev/null"],
        resourceLimits: [.init(resource: 4, name: "core", value: 0), .init(resource: 6, name: "nproc", value: UInt64.max)],
        unshareCgroup: true, command: ["/bin/sh", "-c", "echo \"$HOME\""], environment: ["PATH=/usr/bin", "EMPTY="],
        workingDirectory: "/workspace", terminal: true,
        network: .egress(.init(relayPort: 1, proxyPort: 65535, dnsPort: 53, sinkPort: 2, address: "10.9.0.1", gateway: "10.9.0.2"))
    )

    @Test(arguments: [SandboxPlan.Network.loopback, .host, .egress(.standard)])
    func everyFieldSurvivesTheTrip(network: SandboxPlan.Network) throws {
        var plan = Self.everything
        plan.network = network
        plan.trees = ["/home/alice/pro,ject:x", "/state"]
        #expect(try SandboxPlan(wireBytes: plan.wireBytes()) == plan)
    }

    @Test func theDefaultProfilesPlanSurvivesTheTrip() throws {
        let host = HostFacts(uid: 0, gid: 0, home: "/root", systemEntries: ["/usr": .directory], etcFiles: ["/etc/hosts"], environment: ["TERM": "xterm"])
        let plan = PlanBuilder(profile: .defaults, host: host).build(.init(
            name: "t", workspace: "/src", command: ["true"], terminal: false, layout: SandboxLayout(directory: "/state/t"),
            dataRoot: "/state/data", rlimitFallback: true))
        #expect(try SandboxPlan(wireBytes: plan.wireBytes()) == plan)
    }

    /// Every truncation and every extra byte is refused (init then fails closed).
    @Test func partialOrPaddedPlansAreRefused() {
        let bytes = Self.everything.wireBytes()
        for length in 0..<bytes.count {
            #expect(throws: SandboxPlan.WireError.self) { try SandboxPlan(wireBytes: Array(bytes.prefix(length))) }
        }
        #expect(throws: SandboxPlan.WireError.self) { try SandboxPlan(wireBytes: bytes + [0]) }
    }

    @Test func aPlanFromAnotherVersionIsRefusedWithAReason() throws {
        var bytes = Self.everything.wireBytes()
        bytes[try #require(bytes.firstIndex(of: UInt8(ascii: "/"))) + 1] = UInt8(ascii: "9")
        #expect {
            try SandboxPlan(wireBytes: bytes)
        } throws: { error in
            "\(error)".contains("same build")
        }
    }

    /// A corrupted count never makes the reader allocate or loop past the input.
    @Test func hugeCountsAreRefused() {
        var bytes = Self.everything.wireBytes()
        let magic = Array("cordon-plan/1\n".utf8).count
        bytes[magic + 3] = 0xff  // the root's length
        #expect(throws: SandboxPlan.WireError.self) { try SandboxPlan(wireBytes: bytes) }
    }
}
