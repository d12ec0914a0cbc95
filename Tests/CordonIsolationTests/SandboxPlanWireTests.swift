import CordonTestSupport
import Testing

@testable import CordonIsolation

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

    /// Where each tag byte of `everything` (with `.loopback`) lies.
    static var firstStepTag: Int {
        let plan = everything
        return SandboxPlan.wireMagic.count + 4 + plan.root.utf8.count + 4 + 4 + plan.hostname.utf8.count + 4
    }

    @Test func unknownTagsAndFlagsAreRefusedWithTheirPosition() {
        var plan = Self.everything
        plan.network = .loopback
        let bytes = plan.wireBytes()
        var badNetwork = bytes
        badNetwork[bytes.count - 1] = 7
        #expect(throws: SandboxPlan.WireError(message: "unknown network kind 7 at byte \(bytes.count - 1)")) { try SandboxPlan(wireBytes: badNetwork) }
        var badFlag = bytes
        badFlag[bytes.count - 2] = 2  // `terminal`
        #expect(throws: SandboxPlan.WireError(message: "invalid flag 2 at byte \(bytes.count - 2)")) { try SandboxPlan(wireBytes: badFlag) }
        var badStep = bytes
        #expect(badStep[Self.firstStepTag] == 0)  // `.directory`
        badStep[Self.firstStepTag] = 0xEE
        #expect(throws: SandboxPlan.WireError(message: "unknown step 238 at byte \(Self.firstStepTag)")) { try SandboxPlan(wireBytes: badStep) }
    }

    /// Random corruption of a valid plan is either refused or read as some whole plan: never a
    /// crash, a hang or a huge allocation (init reads this before anything else).
    @Test(.timeLimit(.minutes(1)))
    func corruptedPlansNeverCrashTheReader() {
        var random = SplitMix(seed: 0x23)
        let bytes = Self.everything.wireBytes()
        var refused = 0
        for _ in 0..<5000 {
            var mutated = bytes
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let index = Int.random(in: 0..<mutated.count, using: &random)
                mutated[index] = UInt8.random(in: 0...255, using: &random)
            }
            if (try? SandboxPlan(wireBytes: mutated)) == nil { refused += 1 }
        }
        #expect(refused > 0)
    }
}
