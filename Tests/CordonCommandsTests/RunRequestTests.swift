@testable import CordonCommands
import CordonConfig
import Testing

/// `cordon run`'s fast path reads only the common shape; everything else must fall through to
/// ArgumentParser, which owns help and every error message.
struct RunRequestTests {
    @Test func readsTheFourOptionsInBothForms() throws {
        let request = try #require(RunRequest.direct(["--name", "box", "--profile=dev", "--workspace", "/w", "--mode=yolo", "--", "sh", "-c", "exit 3"]))
        #expect(request.name == "box")
        #expect(request.profile == "dev")
        #expect(request.workspace == "/w")
        #expect(request.mode == .yolo)
        #expect(request.command == ["sh", "-c", "exit 3"])
    }

    @Test func everythingAfterTheSeparatorIsTheCommand() throws {
        let request = try #require(RunRequest.direct(["--", "--help", "--name", "x"]))
        #expect(request.command == ["--help", "--name", "x"])
        #expect(request.name == nil)
    }

    @Test(arguments: [
        ["--help", "--", "true"],  // help
        ["-h", "--", "true"],
        ["--bogus", "x", "--", "true"],  // unknown option
        ["--name", "a", "--name", "b", "--", "true"],  // repeated
        ["--name", "--", "true"],  // option without its value
        ["--mode", "reckless", "--", "true"],  // not a mode
        ["--name="],
        ["true"],  // no separator
        ["--"],  // no command
        [],
    ])
    func leavesAnythingElseToArgumentParser(_ arguments: [String]) {
        #expect(RunRequest.direct(arguments[...]) == nil)
    }
}
