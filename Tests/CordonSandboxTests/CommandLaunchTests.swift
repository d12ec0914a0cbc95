import CordonTestSupport
import Foundation
import Glibc
import Testing

/// `cordon run` tells a command that is not there (127) from one that is there but cannot be run
/// (126, saying why), as the README promises; a path the host has but the sandbox does not show
/// gets a hint saying why and how to share it.
@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"), .timeLimit(.minutes(5)))
struct CommandLaunchTests {
    func run(_ h: SandboxHarness, _ command: [String], directory: String? = nil) async throws -> SandboxHarness.Result {
        try await SandboxHarness.run(
            [SandboxHarness.cordon, "run", "--name", "launch", "--workspace", h.workspace, "--"] + command, environment: h.environment(),
            directory: directory ?? h.workspace)
    }

    @Test func aFileThatIsNotExecutableExits126SayingSo() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("README.md", "# not a program\n")
        let r = try await run(h, ["./README.md"])
        #expect(r.status == 126, "\(r.stderr)")
        #expect(r.stderr.contains("./README.md: permission denied: the file is not executable (mode 644)"), "\(r.stderr)")
        #expect(!r.stderr.contains("command not found"))
    }

    @Test func aDirectoryExits126() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try FileManager.default.createDirectory(atPath: h.workspace + "/sub", withIntermediateDirectories: true)
        let r = try await run(h, ["./sub"])
        #expect(r.status == 126, "\(r.stderr)")
        #expect(r.stderr.contains("./sub: is a directory"), "\(r.stderr)")
    }

    @Test func aMissingCommandExits127() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let name = try await run(h, ["no-such-command-here"])
        #expect(name.status == 127, "\(name.stderr)")
        #expect(name.stderr.contains("no-such-command-here: command not found on the sandbox's PATH"), "\(name.stderr)")
        let path = try await run(h, ["/no/such/dir/tool"])
        #expect(path.status == 127, "\(path.stderr)")
        #expect(path.stderr.contains("/no/such/dir/tool: no such file or directory in the sandbox"), "\(path.stderr)")
        #expect(!path.stderr.contains("exists on this host"), "nothing on the host: no hint")
        // A non-executable file on PATH is reported as such when nothing executable follows it.
        try h.write("bin/tool", "echo hi\n")
        try h.write("profile.yaml", "name: pathy\nenv:\n  PATH: /workspace/bin:/usr/bin:/bin\n", in: h.root)
        let onPath = try await SandboxHarness.run(
            [SandboxHarness.cordon, "run", "--name", "launch", "--profile", h.root + "/profile.yaml", "--workspace", h.workspace, "--", "tool"],
            environment: h.environment(), directory: h.workspace)
        #expect(onPath.status == 126, "\(onPath.stderr)")
        #expect(onPath.stderr.contains("/workspace/bin/tool: permission denied: the file is not executable"), "\(onPath.stderr)")
    }

    /// A command that exits 127 itself is not taken for a missing one: no message, no hint.
    @Test func theCommandsOwn127IsPassedThrough() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let r = try await run(h, ["/bin/sh", "-c", "exit 127"])
        #expect(r.status == 127)
        #expect(!r.stderr.contains("not found") && !r.stderr.contains("exists on this host"), "\(r.stderr)")
    }

    /// A script under the host's /tmp (outside the workspace): the sandbox has its own /tmp, and
    /// the hint says so and how to share it.
    @Test func aHostPathOutsideTheSandboxGetsAHint() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("tool.sh", "#!/bin/sh\necho ran\n", in: h.root)
        chmod(h.root + "/tool.sh", 0o755)
        let r = try await run(h, [h.root + "/tool.sh"])
        #expect(r.status == 127, "\(r.stderr)")
        #expect(r.stderr.contains("\(h.root)/tool.sh exists on this host but not in the sandbox"), "\(r.stderr)")
        #expect(r.stderr.contains("mounts"), "\(r.stderr)")
        if h.root.hasPrefix("/tmp/") { #expect(r.stderr.contains("the sandbox has its own, empty /tmp"), "\(r.stderr)") }
        // The host path of a file in the workspace: the hint gives its sandbox path.
        try h.write("in.sh", "#!/bin/sh\necho ran\n")
        let inside = try await run(h, [h.workspace + "/in.sh"])
        #expect(inside.status == 127, "\(inside.stderr)")
        #expect(inside.stderr.contains("run it as /workspace/in.sh"), "\(inside.stderr)")
    }

    /// `./tool.sh` typed in a directory other than the workspace names the sandbox's /workspace.
    @Test func aRelativePathFromAnotherDirectoryGetsAHint() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("tool.sh", "#!/bin/sh\necho ran\n", in: h.root)
        chmod(h.root + "/tool.sh", 0o755)
        let r = try await run(h, ["./tool.sh"], directory: h.root)
        #expect(r.status == 127, "\(r.stderr)")
        #expect(r.stderr.contains("./tool.sh is relative to the sandbox's working directory /workspace"), "\(r.stderr)")
    }
}
