import CordonConfig
import CordonCore
import CordonOS
import CordonSandbox

/// What `cordon exec` was asked, and running it: shared by ExecCommand (ArgumentParser) and the
/// direct path `CordonMain` takes for its common shape.
struct ExecRequest: Equatable {
    var name: String
    /// The hidden `--state-dir` (tests); ArgumentParser's path only.
    var stateDir: String?
    var tty: Bool
    /// `-e` entries as given.
    var env: [String]
    var workdir: String?
    var command: [String]

    /// Runs the command in the sandbox; its exit status (125 with the error said when cordon
    /// could not hand it over).
    func execute() -> Int32 {
        Console.exitOnError {
            let environment = try ExecCommand.environment(env, host: ProcessEnvironment.current)
            let layout = try SandboxLayout.existing(name: name, stateDir: stateDir)
            return try ExecClient.run(
                name: name, layout: layout,
                request: .init(argv: command, environment: environment, directory: workdir, terminal: tty, filter: ExecCommand.filter(layout)))
        }
    }

    /// `NAME [-i] [-t] [-it] [-e VAR[=VALUE]]… [-w DIR] -- CMD [ARGS…]` (options before or after
    /// the name, `-w` at most once and absolute, option values not starting with `-`) read without
    /// ArgumentParser, whose reflection over the command tree cost ~2 ms of every exec. nil for
    /// anything else: ArgumentParser then parses it and owns every error and help message, so this
    /// path only ever accepts what it would accept.
    static func direct(_ arguments: ArraySlice<String>) -> ExecRequest? {
        var name: String?
        var tty = false
        var env: [String] = []
        var workdir: String?
        var rest = arguments
        while let argument = rest.first, argument != "--" {
            rest = rest.dropFirst()
            switch argument {
            case "-i": break
            case "-t", "-it", "-ti": tty = true
            case "-e", "-w":
                guard let value = rest.first, !value.isEmpty, !value.hasPrefix("-") else { return nil }
                rest = rest.dropFirst()
                if argument == "-e" {
                    env.append(value)
                } else {
                    guard workdir == nil, value.hasPrefix("/") else { return nil }
                    workdir = value
                }
            default:
                guard name == nil, !argument.isEmpty, !argument.hasPrefix("-") else { return nil }
                name = argument
            }
        }
        guard let name, rest.first == "--", rest.count > 1 else { return nil }
        return ExecRequest(name: name, stateDir: nil, tty: tty, env: env, workdir: workdir, command: Array(rest.dropFirst()))
    }
}
