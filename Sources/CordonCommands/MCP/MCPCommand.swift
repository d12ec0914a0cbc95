public import ArgumentParser
import CordonCore
import CordonMCP
import CordonOS
import Dispatch
import Glibc
import Synchronization

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

    func run() throws {
        let status = Console.exitOnError { () throws -> Int32 in
            let context = try Self.context(workspace: workspace)
            let version = CordonVersion.string
            let outcome = Outcome()
            let done = DispatchSemaphore(value: 0)
            if let http {
                let token = try BearerToken.load(paths: context.paths)
                let file = BearerToken.path(paths: context.paths)
                Task {
                    do {
                        try await MCPService.serveHTTP(context: context, version: version, port: http, token: token) { port in
                            // stdout carries no JSON-RPC here: the address, for scripts; the note for people.
                            let line = Array("http://127.0.0.1:\(port)\(HTTPServer.endpoint)\n".utf8)
                            _ = line.withUnsafeBytes { Glibc.write(1, $0.baseAddress, $0.count) }
                            Console.note("cordon mcp: serving http://127.0.0.1:\(port)\(HTTPServer.endpoint); bearer token in \(file)")
                        }
                    } catch { outcome.fail(error) }
                    done.signal()
                }
            } else {
                Task {
                    do { try await MCPService.serveStdio(context: context, version: version) } catch { outcome.fail(error) }
                    done.signal()
                }
            }
            done.wait()
            if let error = outcome.error { throw error }
            return 0
        }
        throw ExitCode(status)
    }

    /// The tools' context: this executable, this environment, the workspace given or the current directory.
    static func context(workspace: String?) throws(CordonError) -> MCPContext {
        let executable = FileIO.readLink("/proc/self/exe") ?? CommandLine.arguments[0]
        let environment = ProcessEnvironment.current.map { $0.key + "=" + $0.value }.sorted()
        let directory = CurrentDirectory.path
        let served = workspace.map { $0.hasPrefix("/") ? $0 : directory + "/" + $0 } ?? directory
        guard FileIO.kind(served) == .directory else {
            throw CordonError(.invalidArgument, "\(served) is not a directory", hint: "pass --workspace DIR, or start cordon mcp in the workspace")
        }
        return MCPContext(cli: CordonCLI(executable: executable, environment: environment), paths: .current(), workspace: CordonPaths.canonical(served))
    }

    /// The serving task's error, read once it is done.
    final class Outcome: Sendable {
        private let failure = Mutex<(any Error)?>(nil)
        var error: (any Error)? { failure.withLock { $0 } }
        func fail(_ error: any Error) { failure.withLock { $0 = error } }
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
            let context = try MCPServeCommand.context(workspace: workspace)
            Console.note(ClientConfig.whereItGoes(client))
            print(ClientConfig.snippet(client, executable: context.cli.executable, workspace: context.workspace))
            return 0
        }
        throw ExitCode(status)
    }
}

extension ClientConfig.Client: ExpressibleByArgument {}
