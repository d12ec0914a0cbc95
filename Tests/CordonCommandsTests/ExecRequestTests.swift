import ArgumentParser
import Testing

@testable import CordonCommands

/// `cordon exec`'s fast path reads only the common shape, exactly as ArgumentParser reads it;
/// everything else must fall through to ArgumentParser, which owns help and every error message.
struct ExecRequestTests {
    @Test(arguments: [
        ["box", "--", "true"],
        ["box", "-i", "-t", "--", "sh", "-c", "exit 3"],
        ["-it", "box", "--", "sh"],
        ["box", "-ti", "-e", "A=1", "-e", "EDITOR", "-w", "/workspace/sub", "--", "ls", "-l"],
        ["box", "--", "--help", "-w", "x"],
        ["-e", "B=x=y", "box", "-t", "--", "env"],
    ])
    func readsWhatArgumentParserReads(_ arguments: [String]) throws {
        let direct = try #require(ExecRequest.direct(arguments[...]))
        let parsed = try ExecCommand.parse(arguments)
        let expected = ExecRequest(
            name: parsed.sandbox.name, stateDir: parsed.sandbox.stateDir, tty: parsed.tty, env: parsed.env, workdir: parsed.workdir,
            command: parsed.command)
        #expect(direct == expected)
    }

    @Test(arguments: [
        ["box", "--help", "--", "true"],  // help
        ["-h", "box", "--", "true"],
        ["box", "--state-dir", "/s", "--", "true"],  // tests' hidden option
        ["box", "-x", "--", "true"],  // unknown option
        ["box", "-e", "--", "true"],  // option without its value
        ["box", "-w", "relative", "--", "true"],  // not absolute
        ["box", "-w", "/a", "-w", "/b", "--", "true"],  // repeated
        ["box", "other", "--", "true"],  // two names
        ["", "--", "true"],
        ["box", "true"],  // no separator
        ["box", "--"],  // no command
        ["--", "true"],  // no name
        [],
    ])
    func leavesAnythingElseToArgumentParser(_ arguments: [String]) {
        #expect(ExecRequest.direct(arguments[...]) == nil)
    }
}
