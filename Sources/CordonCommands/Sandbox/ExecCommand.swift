import ArgumentParser
import CordonConfig
import CordonCore
import CordonSandbox

/// `cordon exec NAME [-it] [-e VAR[=VALUE]] [-w DIR] -- CMD…`: a command in a running sandbox.
struct ExecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run a command in a running sandbox and return its exit status.",
        discussion: """
            The command runs with exactly the sandbox's namespaces, seccomp filter, Landlock rules, \
            cgroup, environment and egress policy: the sandbox's init starts it. Standard streams \
            are passed as they are; a terminal among them (or -t) gives the command a pty that \
            cordon relays, so your terminal never enters the sandbox. Ending `cordon exec` \
            (Ctrl-C, SIGTERM) ends the command. Exit status: the command's, 128+N when killed by \
            signal N, 126/127 when it could not be run or found.
            """
    )

    @OptionGroup var sandbox: SandboxSelection

    @Flag(name: .customShort("i"), help: "Keep stdin attached (it always is; accepted as Docker users type it).")
    var interactive = false

    @Flag(name: .customShort("t"), help: "Give the command a pty even when no standard stream is a terminal.")
    var tty = false

    @Option(name: .customShort("e"), help: "Set VAR in the command's environment; a bare VAR copies this shell's value.")
    var env: [String] = []

    @Option(name: .customShort("w"), help: "Working directory inside the sandbox (default: /workspace).")
    var workdir: String?

    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.")
    var command: [String] = []

    func validate() throws {
        if command.isEmpty { throw ValidationError("missing command: cordon exec NAME [-it] [-e VAR[=VALUE]] [-w DIR] -- CMD [ARGS…]") }
        if let workdir, !workdir.hasPrefix("/") { throw ValidationError("-w takes an absolute directory inside the sandbox, not \(workdir)") }
    }

    func run() throws {
        throw ExitCode(ExecRequest(name: sandbox.name, stateDir: sandbox.stateDir, tty: tty, env: env, workdir: workdir, command: command).execute())
    }

    /// `-e` entries as `KEY=VALUE`: a bare `VAR` takes the host's value (and is left out when the
    /// host has none); nothing else of the host's environment enters.
    static func environment(_ entries: [String], host: [String: String]) throws(CordonError) -> [String] {
        var result: [String] = []
        for entry in entries {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(parts[0])
            guard !key.isEmpty, key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }), !(key.first?.isNumber ?? true) else {
                throw CordonError(.invalidArgument, "-e \(entry): not a variable name", hint: "pass -e VAR=VALUE or -e VAR (letters, digits and _)")
            }
            if parts.count == 2 {
                result.append(entry)
            } else if let value = host[key] {
                result.append("\(key)=\(value)")
            }
        }
        return result
    }

    /// The terminal filter of the sandbox's profile (recorded at `up`).
    static func filter(_ layout: SandboxLayout) -> Profile.Terminal.Filter {
        (try? UpRecord.load(layout)).flatMap { $0.flatMap { Profile.Terminal.Filter(rawValue: $0.terminalFilter) } } ?? .standard
    }
}

/// `cordon shell NAME`: an interactive shell in a running sandbox (bash when it has one).
struct ShellCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shell", abstract: "Open an interactive shell in a running sandbox (/bin/bash, else /bin/sh).")

    @OptionGroup var sandbox: SandboxSelection

    static let shell = ["/bin/sh", "-c", "if [ -x /bin/bash ]; then exec /bin/bash; fi; exec /bin/sh"]

    func run() throws {
        let status = Console.exitOnError {
            let layout = try sandbox.layout()
            return try ExecClient.run(
                name: sandbox.name, layout: layout,
                request: .init(argv: Self.shell, environment: [], directory: nil, terminal: true, filter: ExecCommand.filter(layout)))
        }
        throw ExitCode(status)
    }
}
