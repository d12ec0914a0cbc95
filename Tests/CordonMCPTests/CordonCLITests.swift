import CordonTestSupport
import Foundation
import Testing

@testable import CordonMCP

/// The runner the tools use: output cut at the limit and the rest counted; a run past its
/// timeout ended; log tails read from the end.
@Suite(.timeLimit(.minutes(1)))
struct CordonCLITests {
    @Test func outputIsCutAndCounted() async throws {
        let cli = CordonCLI(executable: "/bin/sh", environment: ["PATH=/usr/bin:/bin"])
        let output = try await cli.run(["-c", "head -c 5000 /dev/zero; echo oops >&2; exit 4"], timeout: 30, outputLimit: 1000)
        #expect(output.status == 4)
        #expect(output.stdout.count == 1000 && output.stdoutDropped == 4000)
        #expect(output.stderrText == "oops\n" && output.stderrDropped == 0)
        #expect(!output.timedOut)
    }

    @Test func aRunPastItsTimeoutIsEnded() async throws {
        let cli = CordonCLI(executable: "/bin/sh", environment: ["PATH=/usr/bin:/bin"])
        let output = try await cli.run(["-c", "echo started; exec sleep 30"], timeout: 1, outputLimit: 1000)
        #expect(output.timedOut)
        #expect(output.stdoutText == "started\n")
        // Ended by the runner (SIGTERM), not by the sleep running out (status 0): no clock is read,
        // so a loaded machine cannot fail it.
        #expect(output.status == 128 + 15)
    }

    @Test func tailsReadTheLastWholeLines() throws {
        let root = try TempTree.makeDirectory()
        let file = root + "/log.jsonl"
        try (1...100).map { "{\"n\":\($0)}\n" }.joined().write(toFile: file, atomically: false, encoding: .utf8)
        #expect(try LogTools.tail(file, lines: 2) == ["{\"n\":99}", "{\"n\":100}"])
        // A window that starts mid-line drops that part line.
        #expect(try LogTools.tail(file, lines: 1000, window: 20).allSatisfy { $0.hasPrefix("{") && $0.hasSuffix("}") })
        #expect(try LogTools.tail(root + "/none", lines: 5) == [])
        symlink(file, root + "/link")
        #expect(throws: ToolError.self) { try LogTools.tail(root + "/link", lines: 5) }
        let document = LogTools.document(name: "s", key: "records", lines: ["{\"n\":1}", "{half"])
        #expect(document.objectValue?["records"]?.arrayValue?.count == 2)
        #expect(document.objectValue?["records"]?.arrayValue?.last == .null)
    }
}
