import FoundationEssentials
public import MCP

/// The Streamable HTTP sessions of `cordon mcp --http`: each `initialize` makes a session (its
/// own `Server` over the SDK's `StatefulHTTPServerTransport`, which assigns the
/// `Mcp-Session-Id` and answers in SSE); a request naming a session goes to it; `DELETE` ends it.
/// The bearer token is checked before a request reaches here (`HTTPServer`).
public actor HTTPSessions {
    public typealias ServerFactory = @Sendable () async -> Server

    private struct Session {
        let server: Server
        let transport: StatefulHTTPServerTransport
    }

    private let makeServer: ServerFactory
    private var sessions: [String: Session] = [:]
    /// Most sessions at once (each holds a server): a client that only initializes cannot grow
    /// the process without bound.
    public static let maximumSessions = 64

    public init(makeServer: @escaping ServerFactory) {
        self.makeServer = makeServer
    }

    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        if let id = request.header(HTTPHeaderName.sessionID) {
            guard let session = sessions[id] else { return .error(statusCode: 404, .invalidRequest("Not Found: no such session")) }
            let response = await session.transport.handleRequest(request)
            if request.method.uppercased() == "DELETE" && response.statusCode == 200 {
                sessions[id] = nil
                await session.server.stop()
            }
            return response
        }
        guard request.method.uppercased() == "POST", let body = request.body, Self.isInitialize(body) else {
            return .error(statusCode: 400, .invalidRequest("Bad Request: no \(HTTPHeaderName.sessionID) header (initialize first)"))
        }
        guard sessions.count < Self.maximumSessions else {
            return .error(statusCode: 503, .internalError("too many sessions: end one (DELETE) first"))
        }
        let id = UUIDSessionIDGenerator().generateSessionID()
        let transport = StatefulHTTPServerTransport(sessionIDGenerator: FixedSessionID(id: id))
        let server = await makeServer()
        do {
            try await server.start(transport: transport)
        } catch {
            await transport.disconnect()
            return .error(statusCode: 500, .internalError("cannot start a session"))
        }
        let response = await transport.handleRequest(request)
        if case .error = response {
            await server.stop()
        } else {
            sessions[id] = Session(server: server, transport: transport)
        }
        return response
    }

    public func closeAll() async {
        for session in sessions.values { await session.server.stop() }
        sessions = [:]
    }

    /// Whether `body` is one JSON-RPC `initialize` request.
    static func isInitialize(_ body: Data) -> Bool {
        struct Probe: Decodable { var method: String? }
        return (try? JSONDecoder().decode(Probe.self, from: body))?.method == "initialize"
    }

    private struct FixedSessionID: SessionIDGenerator {
        let id: String
        func generateSessionID() -> String { id }
    }
}
