import ArgumentParser
import CordonConfig
import CordonCore
import CordonMCPBridge
import CordonOS
import CordonSandbox

/// `cordon mcp bridge NAME -- CMD…`: an MCP server (stdio) run in a sandbox, relayed to the host.
struct MCPBridgeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bridge",
        abstract: "Run an MCP server inside a sandbox and relay it to a host MCP client.",
        discussion: """
            CMD (an MCP server speaking stdio) starts in the running sandbox NAME exactly as \
            `cordon exec NAME -- CMD` starts a command: the sandbox's filesystem, network and \
            secret policy are its own. Its stdin and stdout are relayed byte for byte to this \
            command's (no pty, nothing rewritten), so a host client (Claude Desktop, an IDE) runs \
            `cordon mcp bridge NAME -- CMD` as it would run CMD. Its stderr comes to this stderr \
            (through the profile's terminal filter when that is a terminal). The client closing \
            stdin closes the server's; one still running \(Int(MCPBridge.stdinGrace)) s later is \
            ended. With --profile instead of NAME, a fresh sandbox (as `cordon run --profile` \
            makes) that is stopped and removed when the bridge ends (kept, and said, when it \
            holds changes). --http PORT serves it as Streamable HTTP on 127.0.0.1:PORT/mcp \
            behind a bearer token in a 0600 file (its path is said on stderr; PORT 0 picks one). \
            Exit status: the server's, 128+N when it was killed by signal N, 125 when the bridge \
            could not start it.
            """
    )

    @Argument(help: "The running sandbox to start the server in (omit with --profile).", completion: .custom(Completions.sandboxes))
    var name: String?

    @OptionGroup(title: "A fresh sandbox (--profile instead of NAME)") var launch: LaunchOptions

    @Option(name: .long, help: "Serve the server as Streamable HTTP on 127.0.0.1:PORT (0: a free port) instead of over stdio.")
    var http: Int?

    @Option(name: .customShort("w"), help: "Working directory inside the sandbox (default: /workspace).")
    var workdir: String?

    @Option(name: .customLong("state-dir"), help: .hidden)
    var stateDir: String?

    @Argument(parsing: .postTerminator, help: "The MCP server's command and its arguments, after --.")
    var command: [String] = []

    func validate() throws {
        if command.isEmpty { throw ValidationError("missing command: cordon mcp bridge NAME [--http PORT] -- CMD [ARGS…]") }
        if let workdir, !workdir.hasPrefix("/") { throw ValidationError("-w takes an absolute directory inside the sandbox, not \(workdir)") }
        if let http, !(0...65535).contains(http) { throw ValidationError("--http takes a port number (0-65535), not \(http)") }
        if name == nil && launch.profile == nil {
            throw ValidationError("name a running sandbox (cordon mcp bridge NAME -- CMD) or a profile for a fresh one (--profile PROFILE)")
        }
        if name != nil
            && (launch.profile != nil || launch.workspace != nil || launch.mode != nil || launch.name != nil || !launch.preset.isEmpty
                || !launch.allow.isEmpty || launch.memory != nil || launch.cpus != nil || launch.network != nil)
        {
            throw ValidationError(
                "the options that make a sandbox (--profile, --workspace, --allow…) make a fresh one: drop them to use the running sandbox \(name ?? ""), or drop the name"
            )
        }
    }

    func run() throws {
        let status = Console.exitOnError {
            if let name {
                let layout = try SandboxLayout.existing(name: name, stateDir: stateDir)
                let environment = try ExecCommand.environment(launch.env, host: ProcessEnvironment.current)
                return try bridge(name: name, layout: layout, environment: environment)
            }
            return try bridgeFresh()
        }
        throw ExitCode(status)
    }

    /// A fresh sandbox from `--profile` (its `-e` are the sandbox's), gone when the bridge ends.
    private func bridgeFresh() throws(CordonError) -> Int32 {
        let fresh = launch.name ?? SandboxName.generate()
        let options = SandboxLifecycle.UpOptions(
            profile: launch.profile, workspace: launch.workspace, mode: launch.mode, directory: CurrentDirectory.path,
            flags: try launch.flags(host: ProcessEnvironment.current))
        guard try SandboxLifecycle.bringUp(name: fresh, options: options) != nil else { return 125 }
        Console.note("cordon: sandbox \(fresh) (removed when the bridge ends)")
        let layout = SandboxLayout(paths: .current(), name: fresh)
        let status: Int32
        do throws(CordonError) { status = try bridge(name: fresh, layout: layout, environment: []) } catch {
            Self.remove(fresh, layout: layout)
            throw error
        }
        Self.remove(fresh, layout: layout)
        return status
    }

    /// Stops and removes the bridge's own sandbox; one holding changes is kept, and said.
    private static func remove(_ name: String, layout: SandboxLayout) {
        do throws(CordonError) {
            try SandboxLifecycle.stop(name: name, layout: layout)
            _ = try SandboxRemoval.remove(name: name, layout: layout, discard: false)
        } catch let error where error.code == .policyDenied {
            Console.note("cordon: sandbox \(name) kept: it holds changes; review them with `cordon diff \(name)`, drop them with `cordon rm \(name) --discard`")
        } catch {
            Console.error(error)
        }
    }

    private func bridge(name: String, layout: SandboxLayout, environment: [String]) throws(CordonError) -> Int32 {
        let request = ExecClient.Request(argv: command, environment: environment, directory: workdir, terminal: false)
        let filter = ExecCommand.filter(layout)
        guard let http else { return try MCPBridge.relayStdio(name: name, layout: layout, command: request, filter: filter) }
        return try MCPBridge.serveHTTP(
            name: name, layout: layout, command: request, filter: filter, port: http, paths: .current(), note: { Console.note($0) },
            listening: { listening in
                Console.note("cordon: MCP server of sandbox \(name) at \(listening.url)")
                Console.note("cordon: its bearer token is in \(listening.token.path) (mode 0600; removed when the bridge ends)")
            })
    }
}
