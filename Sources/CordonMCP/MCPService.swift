import CordonCore
import Logging
import MCP

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
        let calls = CordonMCPServer.Calls()
        let server = await CordonMCPServer.make(context: context, version: version, calls: calls)
        try await server.start(transport: StdioLineTransport(logger: logger()))
        await server.waitUntilCompleted()
        // Input ended: the calls already asked still get their answers (bounded by exec's cap).
        let deadline = ContinuousClock.now + .seconds(ToolCatalogue.execMaximumTimeout + 60)
        while calls.count > 0 && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        try? await Task.sleep(for: .milliseconds(100))
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
