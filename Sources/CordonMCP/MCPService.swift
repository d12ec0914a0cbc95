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
        let server = await CordonMCPServer.make(context: context, version: version)
        try await server.start(transport: StdioTransport(logger: logger()))
        await server.waitUntilCompleted()
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
