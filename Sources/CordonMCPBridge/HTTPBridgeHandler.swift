import CordonCore
import NIOCore
import NIOHTTP1

/// One HTTP connection to the bridge (Streamable HTTP, kept minimal): every request needs
/// a loopback `Host` and `Origin` when it has them (else 403: `LoopbackRequestCheck`, DNS
/// rebinding), `Authorization: Bearer TOKEN` (else 401, its body unread) and the path `/mcp` (else 404).
/// POST of one JSON-RPC message: written to the server as one line; a request is answered with
/// the server's response to its id (200, application/json), anything else with 202. GET (Accept:
/// text/event-stream) opens the one stream of what the server sends that answers no POST. Other
/// methods: 405. Batches, bodies over `bodyLimit` and non-JSON bodies are refused (400, 413).
final class HTTPBridgeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let path = "/mcp"
    static let bodyLimit = 4 << 20

    private let router: BridgeRouter
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    /// Answered already (refused, or streaming): the rest of the request is ignored.
    private var answered = false

    init(router: BridgeRouter) { self.router = router }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            head = request
            body = []
            answered = false
            if let why = LoopbackRequestCheck.refusal(host: request.headers.first(name: "host"), origin: request.headers.first(name: "origin")) {
                return refuse(context, .forbidden, why)
            }
            guard let token = router.token, token.admits(request.headers.first(name: "authorization")) else {
                return refuse(context, .unauthorized, "missing or wrong bearer token", extra: [("WWW-Authenticate", "Bearer")])
            }
            let path = request.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)
            guard path == Self.path else { return refuse(context, .notFound, "the MCP endpoint is \(Self.path)") }
            switch request.method {
            case .POST: break
            case .GET: openStream(context, request)
            default: refuse(context, .methodNotAllowed, "POST or GET only", extra: [("Allow", "GET, POST")])
            }
        case .body(var chunk):
            guard !answered else { return }
            guard body.count + chunk.readableBytes <= Self.bodyLimit else {
                return refuse(context, .payloadTooLarge, "a message is at most \(Self.bodyLimit) bytes")
            }
            body += chunk.readBytes(length: chunk.readableBytes) ?? []
        case .end:
            guard !answered, head?.method == .POST else { return }
            answered = true
            post(context)
        }
    }

    private func post(_ context: ChannelHandlerContext) {
        guard let envelope = JSONRPCEnvelope.classify(body) else {
            return refuse(context, .badRequest, "the body is not one JSON-RPC message (a JSON object; batches are not supported)")
        }
        let id: String? = if case .request(let id) = envelope { id } else { nil }
        switch router.send(JSONRPCEnvelope.line(body), request: id) {
        case .failure(.duplicateID):
            refuse(context, .conflict, "a request with this id is still waiting for its response")
        case .failure(.serverGone):
            refuse(context, .badGateway, "the MCP server has ended")
        case .success(nil):
            respond(context, .accepted, body: [], contentType: nil)
        case .success(let answer?):
            answer.assumeIsolated().whenComplete { [self] result in
                switch result {
                case .success(let response): respond(context, .ok, body: response, contentType: "application/json")
                case .failure: refuse(context, .badGateway, "the MCP server ended before it answered")
                }
            }
        }
    }

    private func openStream(_ context: ChannelHandlerContext, _ request: HTTPRequestHead) {
        guard request.headers[canonicalForm: "accept"].contains(where: { $0.lowercased().hasPrefix("text/event-stream") }) else {
            return refuse(context, .notAcceptable, "a GET opens an event stream: send Accept: text/event-stream")
        }
        answered = true
        guard router.openStream(context.channel) else { return refuse(context, .conflict, "an event stream is open already") }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/event-stream")
        headers.add(name: "Cache-Control", value: "no-store")
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
    }

    /// An error answer (text/plain); the connection closes after it.
    private func refuse(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ text: String, extra: [(String, String)] = []) {
        answered = true
        respond(context, status, body: Array((text + "\n").utf8), contentType: "text/plain; charset=utf-8", extra: extra + [("Connection", "close")])
    }

    private func respond(
        _ context: ChannelHandlerContext, _ status: HTTPResponseStatus, body: [UInt8], contentType: String?, extra: [(String, String)] = []
    ) {
        var headers = HTTPHeaders()
        if let contentType { headers.add(name: "Content-Type", value: contentType) }
        headers.add(name: "Content-Length", value: "\(body.count)")
        for (name, value) in extra { headers.add(name: name, value: value) }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if !body.isEmpty { context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil) }
        let closing = extra.contains { $0.0 == "Connection" && $0.1 == "close" }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in if closing { channel.close(promise: nil) } }
    }
}

/// The server's stdout as lines for the router. A line longer than `lineLimit` is dropped (what
/// follows up to its end too) and said, so a server cannot make the bridge hold unbounded data.
final class ServerOutputHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    static let lineLimit = 16 << 20

    private let router: BridgeRouter
    private var line: [UInt8] = []
    private var skipping = false

    init(router: BridgeRouter) { self.router = router }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        guard let bytes = chunk.readBytes(length: chunk.readableBytes) else { return }
        var start = bytes.startIndex
        while let newline = bytes[start...].firstIndex(of: 0x0A) {
            if !skipping {
                line += bytes[start..<newline]
                if line.last == 0x0D { line.removeLast() }
                router.received(line)
            }
            line = []
            skipping = false
            start = newline + 1
        }
        guard !skipping else { return }
        line += bytes[start...]
        if line.count > Self.lineLimit {
            router.note("cordon: the MCP server wrote a line over \(Self.lineLimit) bytes; dropped")
            line = []
            skipping = true
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        router.serverEnded()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
