import CordonCore
import FoundationEssentials
import MCP
public import NIOCore
import NIOHTTP1
public import NIOPosix

/// `cordon mcp --http PORT`: Streamable HTTP on 127.0.0.1 only, at `/mcp`. Every request must
/// carry `Authorization: Bearer TOKEN` (`BearerToken`); without it, or with another, the answer is
/// 401 and nothing reaches a session or a tool. Bodies are capped at 4 MiB.
public final class HTTPServer: Sendable {
    public static let endpoint = "/mcp"
    public static let bodyLimit = 4 << 20

    let sessions: HTTPSessions
    let token: String
    let channel: any Channel

    private init(sessions: HTTPSessions, token: String, channel: any Channel) {
        self.sessions = sessions
        self.token = token
        self.channel = channel
    }

    /// Listens on 127.0.0.1:`port` (0: a free port; `port` says which).
    public static func start(port: Int, token: String, sessions: HTTPSessions, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton)
        async throws -> HTTPServer
    {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(HTTPHandler(sessions: sessions, token: token))
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        return HTTPServer(sessions: sessions, token: token, channel: channel)
    }

    public var port: Int { channel.localAddress?.port ?? 0 }

    /// Returns when the listener closes.
    public func wait() async throws { try await channel.closeFuture.get() }

    public func stop() async {
        try? await channel.close()
        await sessions.closeAll()
    }
}

/// One connection: a request collected whole (bounded), its token checked, then handed to the
/// sessions; the answer written back (an SSE stream chunk by chunk).
final class HTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let sessions: HTTPSessions
    private let token: String
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var tooLarge = false

    init(sessions: HTTPSessions, token: String) {
        self.sessions = sessions
        self.token = token
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
            tooLarge = false
        case .body(let buffer):
            if body.count + buffer.readableBytes > HTTPServer.bodyLimit {
                tooLarge = true
            } else {
                body += buffer.readableBytesView
            }
        case .end:
            guard let head else { return }
            self.head = nil
            let channel = context.channel
            let version = head.version
            if let refusal = refusal(head) {
                Self.write(.error(statusCode: refusal.status, refusal.error, extraHeaders: refusal.headers), version: version, channel: channel)
                return
            }
            var headers: [String: String] = [:]
            for (name, value) in head.headers { headers[name] = headers[name].map { $0 + ", " + value } ?? value }
            let request = HTTPRequest(method: head.method.rawValue, headers: headers, body: body.isEmpty ? nil : Data(body), path: HTTPServer.endpoint)
            body = []
            Self.answer(request, sessions: sessions, version: version, channel: channel)
        }
    }

    /// Hands `request` to the sessions and writes their answer, off the event loop.
    static func answer(_ request: HTTPRequest, sessions: HTTPSessions, version: HTTPVersion, channel: any Channel) {
        Task {
            let response = await sessions.handle(request)
            await send(response, version: version, channel: channel)
        }
    }

    /// Why `head` is refused before any session sees it: a `Host` or `Origin` that is not loopback
    /// (403, `LoopbackRequestCheck`: DNS rebinding), no or a wrong token (401), another path
    /// (404), a body over the limit (413).
    private func refusal(_ head: HTTPRequestHead) -> (status: Int, error: MCPError, headers: [String: String])? {
        if let why = LoopbackRequestCheck.refusal(host: head.headers.first(name: "host"), origin: head.headers.first(name: "origin")) {
            return (403, .invalidRequest("Forbidden: " + why), [:])
        }
        guard BearerToken.matches(head.headers.first(name: "authorization"), token: token) else {
            return (
                401, .invalidRequest("Unauthorized: cordon mcp --http needs Authorization: Bearer TOKEN (see `cordon mcp config`)"),
                ["WWW-Authenticate": "Bearer"]
            )
        }
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? head.uri
        guard path == HTTPServer.endpoint else { return (404, .invalidRequest("Not Found: the endpoint is \(HTTPServer.endpoint)"), [:]) }
        if tooLarge { return (413, .invalidRequest("Payload Too Large: at most \(HTTPServer.bodyLimit) bytes"), [:]) }
        return nil
    }

    static func head(_ response: HTTPResponse, version: HTTPVersion) -> HTTPResponseHead {
        var head = HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: response.statusCode))
        for (name, value) in response.headers { head.headers.add(name: name, value: value) }
        return head
    }

    static func write(_ response: HTTPResponse, version: HTTPVersion, channel: any Channel) {
        var head = head(response, version: version)
        let body = response.bodyData.map { [UInt8]($0) } ?? []
        head.headers.replaceOrAdd(name: "Content-Length", value: String(body.count))
        channel.write(HTTPServerResponsePart.head(head), promise: nil)
        if !body.isEmpty { channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil) }
        channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
    }

    static func send(_ response: HTTPResponse, version: HTTPVersion, channel: any Channel) async {
        guard case .stream(let stream, _) = response else {
            write(response, version: version, channel: channel)
            return
        }
        channel.writeAndFlush(HTTPServerResponsePart.head(head(response, version: version)), promise: nil)
        do {
            for try await chunk in stream {
                channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: [UInt8](chunk)))), promise: nil)
            }
        } catch {}
        channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
    }
}

@available(*, unavailable)
extension HTTPHandler: Sendable {}
