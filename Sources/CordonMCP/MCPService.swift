import CordonConfig
import CordonCore
import Dispatch
import Glibc
import Logging
import MCP
import Synchronization

/// Runs `cordon mcp`: over stdio (stdout is the JSON-RPC channel and nothing else writes there;
/// logs go to stderr), or over Streamable HTTP on loopback.
public enum MCPService {
    /// Log lines to stderr only, and only warnings and worse.
    static func logger() -> Logger {
        var logger = Logger(label: "cordon.mcp") { label in StreamLogHandler.standardError(label: label) }
        logger.logLevel = .warning
        return logger
    }

    /// Serves one client on stdin/stdout until stdin ends.
    public static func serveStdio(context: MCPContext, version: String) async throws {
        let server = await CordonMCPServer.make(context: context, version: version)
        let transport = StdioLineTransport(logger: logger())
        try await server.start(transport: transport)
        await server.waitUntilCompleted()
        // Input ended: every request read before that still gets its answer (each call bounded
        // by its own timeout; this deadline only guards against one that never ends). Counted
        // by the transport as lines pass, not by the handlers, which the SDK may not have
        // started yet (a call asked just before the end went unanswered under load).
        let deadline = ContinuousClock.now + .seconds(Profile.MCP.maxExecTimeoutCeiling + 60)
        while transport.unanswered > 0 && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
    }

    /// Serves HTTP on 127.0.0.1:`port` until the listener closes; `listening` is told the port
    /// (0 picks one) once it accepts connections.
    public static func serveHTTP(context: MCPContext, version: String, port: Int, token: String, listening: @Sendable (Int) -> Void) async throws {
        let sessions = HTTPSessions { await CordonMCPServer.make(context: context, version: version) }
        let server = try await HTTPServer.start(port: port, token: token, sessions: sessions)
        listening(server.port)
        try await server.wait()
    }
}

extension MCPService {
    /// The `cordon-mcp` executable, which `cordon mcp` hands over to:
    /// `cordon-mcp --cordon PATH --workspace DIR [--http PORT]` (the workspace checked and made
    /// canonical by cordon). Returns the exit status; errors are said on stderr as cordon says them.
    public static func main(arguments: [String]) -> Int32 {
        do throws(CordonError) {
            let options = try Options(arguments)
            let environment = ProcessEnvironment.current.map { $0.key + "=" + $0.value }.sorted()
            let context = MCPContext(cli: CordonCLI(executable: options.cordon, environment: environment), paths: .current(), workspace: options.workspace)
            let version = CordonVersion.string
            let outcome = Mutex<(any Error)?>(nil)
            let done = DispatchSemaphore(value: 0)
            if let port = options.http {
                let token = try BearerToken.load(paths: context.paths)
                let file = BearerToken.path(paths: context.paths)
                Task {
                    do {
                        try await serveHTTP(context: context, version: version, port: port, token: token) { port in
                            // stdout carries no JSON-RPC here: the address, for scripts; the note for people.
                            say("http://127.0.0.1:\(port)\(HTTPServer.endpoint)", to: 1)
                            say("cordon mcp: serving http://127.0.0.1:\(port)\(HTTPServer.endpoint); bearer token in \(file)", to: 2)
                        }
                    } catch { outcome.withLock { $0 = error } }
                    done.signal()
                }
            } else {
                Task {
                    do { try await serveStdio(context: context, version: version) } catch { outcome.withLock { $0 = error } }
                    done.signal()
                }
            }
            done.wait()
            if let error = outcome.withLock({ $0 }) {
                say("cordon: \(error)", to: 2)
                return 125
            }
            return 0
        } catch {
            say("cordon: \(error)", to: 2)
            return 125
        }
    }

    /// What cordon passes on.
    struct Options {
        var cordon = ""
        var workspace = ""
        var http: Int?

        init(_ arguments: [String]) throws(CordonError) {
            var rest = arguments[...]
            while let flag = rest.popFirst() {
                guard let value = rest.popFirst() else { throw CordonError(.invalidArgument, "cordon-mcp: \(flag) needs a value") }
                switch flag {
                case "--cordon": cordon = value
                case "--workspace": workspace = value
                case "--http":
                    guard let port = Int(value), (0...65535).contains(port) else {
                        throw CordonError(.invalidArgument, "cordon-mcp: --http takes a port from 0 to 65535, got \(value)")
                    }
                    http = port
                default:
                    throw CordonError(.invalidArgument, "cordon-mcp: unknown option \(flag)", hint: "start it as `cordon mcp`, which passes what it needs")
                }
            }
            guard cordon.hasPrefix("/"), workspace.hasPrefix("/") else {
                throw CordonError(.invalidArgument, "cordon-mcp needs --cordon PATH and --workspace DIR (absolute)", hint: "start it as `cordon mcp`")
            }
        }
    }

    /// One line to `fd`, escaped for a terminal on stderr (it carries paths).
    static func say(_ text: String, to fd: Int32) {
        let bytes = Array(((fd == 2 ? TerminalText.escapedContent(text) : text) + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }
}
