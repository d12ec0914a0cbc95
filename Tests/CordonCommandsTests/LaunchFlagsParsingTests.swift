import ArgumentParser
@testable import CordonCommands
import CordonConfig
import CordonCore
import Testing

/// `run`/`up`'s profile flags: the fast path never takes them (ArgumentParser parses them, so
/// nothing is mis-read), and ArgumentParser reads them into the one `ProfileFlags` layer.
struct LaunchFlagsParsingTests {
    @Test(arguments: [
        ["-e", "A=1", "--", "true"], ["--env", "A", "--", "true"], ["--env=A=1", "--", "true"], ["--preset", "pypi", "--", "true"],
        ["--allow", "example.com", "--", "true"], ["--allow=example.com", "--", "true"], ["--memory", "64m", "--", "true"],
        ["--cpus", "0.5", "--", "true"], ["--network", "none", "--", "true"], ["--name", "a", "--network=none", "--", "true"],
    ])
    func theFastPathLeavesEveryProfileFlagToArgumentParser(_ arguments: [String]) {
        #expect(RunRequest.direct(arguments[...]) == nil)
    }

    @Test func argumentParserReadsEveryFlagRepeatable() throws {
        let command = try RunCommand.parse([
            "-e", "A=1", "--env", "B", "-e", "C", "--preset", "pypi", "--preset", "npm", "--allow", "a.test", "--allow", "*.b.test:8443",
            "--memory", "64m", "--cpus", "0.5", "--network", "none", "--", "true",
        ])
        let flags = try command.launch.flags(host: ["B": "from host", "OTHER": "x"])
        #expect(flags.env == ["A=1", "B=from host"], "C is not in the host's environment: left out")
        #expect(flags.presets == ["pypi", "npm"])
        #expect(flags.allow == ["a.test", "*.b.test:8443"])
        #expect(flags.memory == "64m" && flags.cpus == "0.5" && flags.network == Profile.Network.none)
    }

    @Test func aBadNetworkIsRefusedByTheParser() {
        #expect(throws: (any Error).self) { _ = try RunCommand.parse(["--network", "bridge", "--", "true"]) }
    }

    @Test func aBadEnvNameIsRefusedNamingTheFlag() throws {
        let command = try RunCommand.parse(["-e", "1BAD=x", "--", "true"])
        #expect(throws: CordonError.self) { try command.launch.flags(host: [:]) }
    }
}
