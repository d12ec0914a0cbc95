public import ArgumentParser
import CordonCore
import CordonOS
import Glibc

/// `cordon mcp`: cordon as an MCP server (docs/mcp.md). A command group: `serve` (the default:
/// `cordon mcp` alone serves stdio), `config`, `bridge` (an MCP server inside a sandbox).
struct MCPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Serve cordon's sandboxes to MCP clients (agents, IDEs): `cordon mcp` speaks MCP on stdio.",
        discussion: """
            The tools list, start (from a profile you have), exec in, diff, check a sync of, and \
            stop sandboxes, and read their network and audit logs; none approves egress, reads or \
            sets secrets, changes policy or forces a sync. `cordon mcp config` prints the snippet \
            that registers cordon with a client.
            """,
        subcommands: [MCPServeCommand.self, MCPConfigCommand.self, MCPBridgeCommand.self],
        defaultSubcommand: MCPServeCommand.self
    )
}

/// `cordon mcp [serve] [--http PORT] [--workspace DIR]`.
struct MCPServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Speak MCP on stdin/stdout (the default), or Streamable HTTP on 127.0.0.1 with --http.",
        discussion: """
            stdout carries only JSON-RPC; notes go to stderr. With --http PORT (0: any free port) \
            cordon listens on 127.0.0.1 only, at /mcp, and asks every request for \
            `Authorization: Bearer TOKEN`: the token is made once and kept in \
            <state>/mcp/http-token (0600); at start the address is printed on stdout and the \
            token's path on stderr. A wrong or missing token gets 401 and runs nothing.
            """
    )

    @Option(name: .long, help: "Serve Streamable HTTP on 127.0.0.1:PORT instead of stdio (0: a free port).")
    var http: Int?

    @Option(name: .long, help: "The workspace sandbox_up mounts (default: the current directory).", completion: .directory)
    var workspace: String?

    func validate() throws {
        if let http, !(0...65535).contains(http) { throw ValidationError("--http takes a port from 0 to 65535") }
    }

    /// Hands over to `cordon-mcp` (execve: its stdio is this process's): the MCP SDK links
    /// Foundation's networking and libcurl, which this binary, every sandbox's supervisor, does
    /// without. The workspace is checked here; the server gets it canonical, and the path of this
    /// executable, which its tools run.
    func run() throws {
        let status = Console.exitOnError { () throws -> Int32 in
            let served = try Self.workspace(workspace)
            let server = try HelperLocator.path(of: "cordon-mcp", variable: "CORDON_MCP")
            let executable = FileIO.readLink("/proc/self/exe") ?? CommandLine.arguments[0]
            var arguments = ["cordon-mcp", "--cordon", executable, "--workspace", served]
            if let http { arguments += ["--http", String(http)] }
            let environment = ProcessEnvironment.current.map { $0.key + "=" + $0.value }
            throw Exec.replaceImage(server, arguments: arguments, environment: environment).cordonError(.systemCall, "cannot start \(server)")
        }
        throw ExitCode(status)
    }

    /// The workspace `sandbox_up` mounts: the one given, or the current directory; canonical.
    static func workspace(_ given: String?) throws(CordonError) -> String {
        let directory = CurrentDirectory.path
        let served = given.map { $0.hasPrefix("/") ? $0 : directory + "/" + $0 } ?? directory
        guard FileIO.kind(served) == .directory else {
            throw CordonError(.invalidArgument, "\(served) is not a directory", hint: "pass --workspace DIR, or start cordon mcp in the workspace")
        }
        return CordonPaths.canonical(served)
    }
}

/// `cordon mcp config [--client NAME]`: the snippet that registers cordon with a client.
struct MCPConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Print the snippet that registers `cordon mcp` with an MCP client.",
        discussion: "Clients: claude-desktop (default), claude-code, cursor, vscode. Where the snippet goes is said on stderr."
    )

    @Option(name: .long, help: "claude-desktop, claude-code, cursor or vscode.")
    var client: ClientConfig.Client = .claudeDesktop

    @Option(name: .long, help: "The workspace sandbox_up mounts (default: the current directory).", completion: .directory)
    var workspace: String?

    func run() throws {
        let status = Console.exitOnError {
            let served = try MCPServeCommand.workspace(workspace)
            let executable = FileIO.readLink("/proc/self/exe") ?? CommandLine.arguments[0]
            Console.note(ClientConfig.whereItGoes(client))
            print(ClientConfig.snippet(client, executable: executable, workspace: served))
            return 0
        }
        throw ExitCode(status)
    }
}

extension ClientConfig.Client: ExpressibleByArgument {}
