import NIOCore
import NIOHTTP1

/// HTTP/1.1 proxy front end: CONNECT tunnels (403 before the tunnel when refused, then the SNI
/// gate) and absolute-form forward requests (Host must match the target; bodies streamed).
/// A forward connection carries one request, answered with `Connection: close`, so every request
/// is decided on its own.
final class HTTPProxyHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case idle
        /// CONNECT decided or dialling; `sawEnd` once the request is complete.
        case connecting(host: Host, sawEnd: Bool, upstream: (any Channel, Decision)?)
        /// Forward request waiting for its upstream; parts received meanwhile are held.
        case forwarding(pending: [HTTPServerRequestPart])
        case streaming(upstream: any Channel)
        case done
    }

    private let proxy: EgressProxy
    private let record: FlowRecord
    private var state = State.idle
    private var gate: TunnelGate?
    private var pendingRead = false
    /// Set at the forward request's end: what follows (a pipelined request, its body) is never
    /// sent upstream, where it would be a request no one decided.
    private var requestEnded = false
    private weak var relay: ResponseRelay?
    private var context: ChannelHandlerContext?

    init(proxy: EgressProxy, record: FlowRecord) {
        self.proxy = proxy
        self.record = record
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch (state, part) {
        case (.idle, .head(let head)):
            if head.method == .CONNECT { startConnect(context: context, head: head) } else { startForward(context: context, head: head) }
        case (.connecting(let host, _, let upstream), .end):
            state = .connecting(host: host, sawEnd: true, upstream: upstream)
            // Bytes after the CONNECT head are tunnel bytes: the gate before us collects them.
            let gate = TunnelGate(proxy: proxy, record: record, expected: host)
            self.gate = gate
            do {
                try context.pipeline.syncOperations.addHandler(gate, position: .before(self))
                let decoder = try context.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
                context.pipeline.syncOperations.removeHandler(decoder, promise: nil)
            } catch {
                context.close(promise: nil)
                return
            }
            tunnelIfReady(context: context)
        case (.forwarding(var pending), _):
            guard !requestEnded else { break }
            if case .end = part { requestEnded = true }
            pending.append(part)
            state = .forwarding(pending: pending)
        case (.streaming(let upstream), _):
            guard !requestEnded else { break }
            if case .end = part { requestEnded = true }
            send(part, to: upstream)
        default:
            break  // a second request on this connection: ignored; we close after the first response
        }
    }

    // MARK: CONNECT

    private func startConnect(context: ChannelHandlerContext, head: HTTPRequestHead) {
        guard let (hostText, port) = parseAuthority(head.uri), let host = Host(hostText) else {
            record.target(method: "CONNECT", host: head.uri, port: 0)
            record.decided(Decision(verdict: .deny, host: head.uri, port: 0, rule: "bad-request", reason: "CONNECT target is not host:port"))
            finish(context: context, EgressProxy.plainResponse(.badRequest, "CONNECT needs host:port, got \(head.uri)"))
            return
        }
        record.target(method: "CONNECT", host: host.description, port: port)
        state = .connecting(host: host, sawEnd: false, upstream: nil)
        proxy.open(host: hostText, port: port, on: context.eventLoop) { [self] opened in
            guard let context = self.context, case .connecting(let host, let sawEnd, _) = state else {
                if case .connected(_, let channel, _) = opened { channel.close(promise: nil) }
                return
            }
            guard let (decision, channel) = connectedOrFinish(opened, port: port, context: context) else { return }
            state = .connecting(host: host, sawEnd: sawEnd, upstream: (channel, decision))
            tunnelIfReady(context: context)
        }
    }

    /// Runs once the upstream is connected and the request has ended: 200, then the gate judges.
    private func tunnelIfReady(context: ChannelHandlerContext) {
        guard case .connecting(_, true, let upstream?) = state, let gate, let gateContext = try? context.pipeline.syncOperations.context(handler: gate) else {
            return
        }
        state = .done
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: "HTTP/1.1 200 Connection Established\r\n\r\n")), promise: nil)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        gate.arm(context: gateContext, upstream: upstream.0, decision: upstream.1)
    }

    // MARK: Forward proxying

    private func startForward(context: ChannelHandlerContext, head: HTTPRequestHead) {
        guard let target = ForwardTarget(uri: head.uri) else {
            record.target(method: head.method.rawValue, host: head.uri, port: 0)
            record.decided(Decision(verdict: .deny, host: head.uri, port: 0, rule: "bad-request", reason: "not an absolute http:// URI"))
            finish(context: context, EgressProxy.plainResponse(.badRequest, "a proxy request needs an absolute http:// URI (use CONNECT for https), got \(head.uri)"))
            return
        }
        record.target(method: head.method.rawValue, host: target.host, port: target.port)
        let hostHeaders = head.headers["host"]
        if hostHeaders.count > 1 || hostHeaders.first.map({ !target.matches(hostHeader: $0) }) ?? false {
            let decision = Decision(
                verdict: .deny, host: Host(target.host)?.description ?? target.host, port: target.port, rule: "host-mismatch",
                reason: "Host header \(hostHeaders.joined(separator: ",")) differs from the request target \(target.host)")
            record.decided(decision)
            finish(context: context, proxy.refusalResponse(decision))
            return
        }
        state = .forwarding(pending: [])
        proxy.open(host: target.host, port: target.port, on: context.eventLoop) { [self] opened in
            guard let context = self.context, case .forwarding(let pending) = state else {
                if case .connected(_, let channel, _) = opened { channel.close(promise: nil) }
                return
            }
            guard let (_, upstream) = connectedOrFinish(opened, port: target.port, context: context) else { return }
            do {
                let relay = ResponseRelay(client: context.channel, record: record, requestSide: self)
                try upstream.pipeline.syncOperations.addHandlers(
                    HTTPRequestEncoder(), ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .dropBytes)), relay)
                // From here on the client gets HTTP response parts (re-encoded with Connection: close).
                try context.pipeline.syncOperations.addHandler(HTTPResponseEncoder(), position: .first)
                self.relay = relay
            } catch {
                upstream.close(promise: nil)
                context.close(promise: nil)
                return
            }
            state = .streaming(upstream: upstream)
            var outgoing = head
            outgoing.uri = target.pathAndQuery
            for hop in ["proxy-connection", "proxy-authorization", "connection", "keep-alive"] { outgoing.headers.remove(name: hop) }
            if !outgoing.headers.contains(name: "host") { outgoing.headers.add(name: "Host", value: target.authority) }
            outgoing.headers.add(name: "Connection", value: "close")
            upstream.write(HTTPClientRequestPart.head(outgoing), promise: nil)
            for part in pending { send(part, to: upstream) }
            upstream.flush()
            upstream.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in upstream.close(promise: nil) }
            if pendingRead {
                pendingRead = false
                context.read()
            }
        }
    }

    /// Records the dial outcome; answers a refusal (403) or a dial failure (502) and returns nil,
    /// or returns the connected upstream. Shared by CONNECT and forward requests.
    private func connectedOrFinish(_ opened: EgressProxy.Opened, port: Int, context: ChannelHandlerContext) -> (Decision, any Channel)? {
        switch opened {
        case .refused(let decision):
            record.decided(decision)
            finish(context: context, proxy.refusalResponse(decision))
            return nil
        case .failed(let decision, let error):
            record.decided(decision)
            record.failed(error.description)
            finish(context: context, EgressProxy.plainResponse(.badGateway, "cannot reach \(decision.host):\(port): \(error)"))
            return nil
        case .connected(let decision, let channel, let address):
            record.decided(decision)
            record.connected(to: address.description)
            return (decision, channel)
        }
    }

    private func send(_ part: HTTPServerRequestPart, to upstream: any Channel) {
        switch part {
        case .head: break
        case .body(let buffer):
            record.countUp(buffer.readableBytes)
            upstream.writeAndFlush(HTTPClientRequestPart.body(.byteBuffer(buffer)), promise: nil)
        case .end(let trailers):
            upstream.writeAndFlush(HTTPClientRequestPart.end(trailers), promise: nil)
        }
    }

    /// Called by the relay when the upstream can take more request body again.
    func upstreamBecameWritable() {
        if pendingRead, let context {
            pendingRead = false
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { relay?.clientBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        switch state {
        case .forwarding:
            pendingRead = true
        case .streaming(let upstream) where !upstream.isWritable:
            pendingRead = true
        default:
            context.read()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        switch state {
        case .connecting(_, _, let upstream?): upstream.0.close(promise: nil)
        case .streaming(let upstream): upstream.close(promise: nil)
        default: break
        }
        state = .done
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case .idle = state {
            record.failed("bad request: \(error)")
            finish(context: context, EgressProxy.plainResponse(.badRequest, "malformed request"))
        } else {
            context.close(promise: nil)
        }
    }

    private func finish(context: ChannelHandlerContext, _ response: String) {
        state = .done
        context.writeAndClose(response)
    }
}

@available(*, unavailable)
extension HTTPProxyHandler: Sendable {}

/// Upstream side of a forward request: the response is decoded and re-encoded to the client
/// with `Connection: close` (a forward connection carries one request, so the client must not
/// reuse it), bodies streamed as they come, reads held while the client is full.
final class ResponseRelay: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private let client: any Channel
    private let record: FlowRecord
    private weak var requestSide: HTTPProxyHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var ended = false

    init(client: any Channel, record: FlowRecord, requestSide: HTTPProxyHandler) {
        self.client = client
        self.record = record
        self.requestSide = requestSide
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(var head):
            for hop in ["connection", "keep-alive", "proxy-connection"] { head.headers.remove(name: hop) }
            if head.status.code >= 200 { head.headers.add(name: "Connection", value: "close") }
            client.write(HTTPServerResponsePart.head(head), promise: nil)
        case .body(let buffer):
            record.countDown(buffer.readableBytes)
            client.write(HTTPServerResponsePart.body(.byteBuffer(buffer)), promise: nil)
        case .end(let trailers):
            ended = true
            let client = client
            client.writeAndFlush(HTTPServerResponsePart.end(trailers)).whenComplete { _ in client.close(promise: nil) }
            context.close(promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) { client.flush() }

    func channelInactive(context: ChannelHandlerContext) {
        guard !ended else { return }
        // The upstream went away mid-response: the client must not take a truncated body as whole.
        client.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        record.failed("upstream response: \(error)")
        context.close(promise: nil)
        client.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { requestSide?.upstreamBecameWritable() }
    }

    func clientBecameWritable() {
        if pendingRead, let context {
            pendingRead = false
            context.read()
        }
    }

    func read(context: ChannelHandlerContext) {
        if client.isWritable { context.read() } else { pendingRead = true }
    }
}

@available(*, unavailable)
extension ResponseRelay: Sendable {}

/// The parts of an absolute-form `http://` request target.
struct ForwardTarget: Equatable {
    var host: String
    var port: Int
    var authority: String
    var pathAndQuery: String

    init?(uri: String) {
        guard uri.lowercased().hasPrefix("http://") else { return nil }
        let rest = uri.dropFirst(7)
        let end = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = String(rest[..<end])
        guard !authority.isEmpty, !authority.contains("@") else { return nil }
        var path = String(rest[end...])
        if let hash = path.firstIndex(of: "#") { path = String(path[..<hash]) }
        if path.isEmpty || path.hasPrefix("?") { path = "/" + path }
        if let parsed = parseAuthority(authority) {
            (host, port) = parsed
        } else if !authority.hasSuffix(":"), FirstBytes.stripPort(authority) == authority {
            (host, port) = (authority, 80)
        } else {
            return nil
        }
        self.authority = authority
        self.pathAndQuery = path
    }

    /// Same host (normalised) and same port (80 when the header names none).
    func matches(hostHeader: String) -> Bool {
        let headerHost = FirstBytes.stripPort(hostHeader.trimmingSpaces())
        let headerPort = parseAuthority(hostHeader.trimmingSpaces())?.port ?? 80
        guard let a = Host(headerHost), let b = Host(host) else { return false }
        return a == b && headerPort == port
    }
}
