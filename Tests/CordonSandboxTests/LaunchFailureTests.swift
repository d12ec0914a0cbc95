import CordonIsolation
import CordonTestSupport
import Foundation
import Testing

@testable import CordonSandbox

/// init's report of a command it could not start, and the hint the host adds to it.
struct LaunchFailureTests {
    @Test func launchFailureCrossesTheErrorChannel() {
        let failure = LaunchFailure(status: 126, command: "./a b\nc", reason: "is a directory, not a program")
        #expect(LaunchFailure(wireBytes: failure.wireBytes) == failure)
        #expect(LaunchFailure(wireBytes: Array("cannot mount /proc: EPERM".utf8)) == nil, "a setup error stays one")
        var forged = failure.wireBytes
        if let end = forged.firstIndex(of: 0) { forged[end - 1] = UInt8(ascii: "0") }
        #expect(LaunchFailure(wireBytes: forged) == nil, "only 126 and 127")
    }

    @Test func hintsOnlyForPathsTheHostHas() throws {
        let tree = try TempTree()
        let workspace = tree.path("ws")
        try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: tree.path("outside.sh"), contents: Data())
        _ = FileManager.default.createFile(atPath: workspace + "/in.sh", contents: Data())
        let hint = LaunchHint(workspace: workspace, currentDirectory: tree.root, mounts: [(host: tree.path("mnt"), sandbox: "/data")])
        func notFound(_ command: String) -> LaunchFailure { LaunchFailure(status: 127, command: command, reason: "no such file or directory in the sandbox") }
        #expect(hint.hint(notFound(tree.path("outside.sh")))?.contains("exists on this host but not in the sandbox") == true)
        #expect(hint.hint(notFound(workspace + "/in.sh"))?.hasSuffix("run it as /workspace/in.sh") == true)
        #expect(hint.hint(notFound(workspace + "/../ws/./in.sh"))?.hasSuffix("run it as /workspace/in.sh") == true)
        #expect(hint.hint(notFound(tree.path("absent.sh"))) == nil)
        #expect(hint.hint(notFound("./outside.sh"))?.contains("is relative to the sandbox's working directory /workspace") == true)
        #expect(hint.hint(notFound("ws/in.sh"))?.hasSuffix("run it as /workspace/in.sh") == true)
        #expect(hint.hint(LaunchFailure(status: 126, command: tree.path("outside.sh"), reason: "is a directory")) == nil)
        #expect(hint.hint(notFound("plainname")) == nil)
        let message = hint.message(LaunchFailure(status: 127, command: "a\u{1B}[2J", reason: "command not found"))
        #expect(!message.contains("\u{1B}"))
    }
}
