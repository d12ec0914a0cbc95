import CordonCore
import CordonPolicy
import CordonScan
import CordonUsage
import NIOCore
import NIOHTTP1
import NIOSSL

/// HTTP/1.1 requests, on the proxy listener and on captured plain-HTTP flows:
/// - `.listener`: CONNECT tunnels (403 before the tunnel when refused, then the SNI gate) and
///   absolute-form forward requests (the Host header must match the target);
/// - `.captured`: requests to a captured flow's original destination, each Host header checked
///   against the names the DNS stub handed that address out for;
/// - `.tunnelled`: plain HTTP inside an allowed CONNECT or SOCKS tunnel, each request's Host
///   checked against the tunnel's host.
/// Every head is held to `RequestHeadRules` (one Host, one framing; 400 otherwise), and the client
/// has `firstBytesTimeout` to send each head (408 for the first; a quiet kept-alive connection closes).
/// Every request is decided on its own and goes upstream on a connection of its own, with
/// `Connection: close`. The client's connection stays open between requests when the client
/// allows it and the response's end is known from its framing; requests pipelined behind one in
/// flight are held (reads stop) until its response is complete, then decided in turn. An
/// `Upgrade` request answered 101 turns the connection into a byte tunnel (WebSocket).
final class HTTPProxyHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Mode {
        case listener
        case captured(destination: IPAddress, port: Int)
        case tunnelled(host: Host, port: Int)
        /// Requests inside a TLS connection the proxy terminated for `host` (`Interception`): each
        /// Host must be `host`; secrets bound to it are injected; upstream is TLS again.
        case intercepted(host: Host, port: Int)
    }

    private enum State {
        case idle
        /// CONNECT decided or dialling; `sawEnd` once the request is complete.
        case connecting(host: Host, sawEnd: Bool, upstream: (any Channel, Decision)?)
        /// Request waiting for its upstream; parts received meanwhile are held.
        case forwarding(pending: [HTTPServerRequestPart])
        /// A request to be signed again (SigV4) whose body is read whole first.
        case collecting(head: HTTPRequestHead, host: Host, port: Int, upgrade: Bool, parts: [HTTPServerRequestPart], bytes: Int)
        case streaming(upstream: any Channel)
        case done
    }

    private let proxy: EgressProxy
    private let mode: Mode
    /// The connection's first record, finished at close by whoever made it; later requests get
    /// records of their own.
    private let firstRecord: FlowRecord
    private var record: FlowRecord
    private var state = State.idle
    private var gate: TunnelGate?
    private var pendingRead = false
    /// Set at the request's end: what follows belongs to the next request and waits in `queued`.
    private var requestEnded = false
    /// Parts of requests pipelined behind the one in flight.
    private var queued: [HTTPServerRequestPart] = []
    /// Reads stop when the parts held (a request waiting for its upstream, pipelined ones) weigh this much.
    static let holdLimit = 64 * 1024
    /// The client let this connection carry another request after the current one.
    private var reusable = false
    private weak var relay: ResponseRelay?
    /// How the request in flight goes upstream.
    private var request = UpstreamRequest()
    private var context: ChannelHandlerContext?
    /// Runs while the connection waits for a request head.
    private var headDeadline: Scheduled<Void>?
    /// An open upstream for the next request: in a tunnel, the one dialled (and admitted) for the
    /// CONNECT or SOCKS request, for the first request; on an intercepted connection, the one of
    /// the last complete response (`readmit`: the request is admitted again, and it is used only
    /// while open). Without one a request is admitted and dialled on its own.
    private var predialled: (decision: Decision, channel: any Channel, readmit: Bool)?
    /// The decision the request in flight's upstream was dialled under (kept with that upstream).
    private var lastDecision: Decision?
    /// Watches the body of the request in flight for placeholders that must not leave (nil: none to watch).
    private var bodyCheck: RequestBodyCheck?
    /// The request in flight is metered (`Interception.usage`): its body's size goes here, and the
    /// relay hands it the response.
    private var usage: UsageExchange?

    init(proxy: EgressProxy, record: FlowRecord, mode: Mode = .listener, predialled: (decision: Decision, channel: any Channel)? = nil) {
        self.predialled = predialled.map { ($0.decision, $0.channel, false) }
        self.proxy = proxy
        self.record = record
        self.firstRecord = record
        self.mode = mode
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // A client may shut its side once the request is sent; the answer still goes back.
        try? context.channel.syncOptions?.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
        armHeadDeadline(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        headDeadline?.cancel()
        headDeadline = nil
    }

    /// The client has `firstBytesTimeout` to complete a request head (a head sent a byte at a time,
    /// or never, would otherwise hold the connection and its buffers until the idle timeout).
    private func armHeadDeadline(context: ChannelHandlerContext) {
        headDeadline?.cancel()
        let limit = proxy.options.firstBytesTimeout
        headDeadline = context.eventLoop.assumeIsolated().scheduleTask(in: limit) { [self] in
            headDeadline = nil
            guard let context = self.context, case .idle = state else { return }
            guard record === firstRecord else {
                // A kept-alive connection that carries no further request: closed quietly.
                state = .done
                context.close(promise: nil)
                return
            }
            record.target(method: "http", host: "(no request)", port: 0)
            record.decided(
                Decision(
                    verdict: .deny, host: "(no request)", port: 0, rule: "timeout",
                    reason: "no complete request head within \(describeTimeout(limit))"))
            finish(context: context, EgressProxy.plainResponse(.requestTimeout, "no complete request head within \(describeTimeout(limit))"))
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        handle(unwrapInboundIn(data), context: context)
    }

    /// The client shut its side: a request in flight is still answered, then the connection
    /// closes; with none in flight it closes now.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let event = event as? ChannelEvent, case .inputClosed = event else {
            return context.fireUserInboundEventTriggered(event)
        }
        reusable = false
        switch state {
        case .forwarding, .streaming: break
        default: context.close(promise: nil)
        }
    }

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch state {
        case .idle:
            guard case .head(let head) = part else { return }
            start(context: context, head: head)
        case .connecting(let host, _, let upstream):
            guard case .end = part else { return }
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
        case .collecting(let head, let host, let port, let upgrade, var parts, var bytes):
            guard !requestEnded else { return queued.append(part) }
            if case .body(let buffer) = part { bytes += buffer.readableBytes }
            guard bytes <= AWSSigning.bodyLimit, let aws = proxy.interception?.aws else {
                return refuse(
                    context, host: host.description, port: port, rule: "sigv4",
                    reason: "a SigV4 request body over \(AWSSigning.bodyLimit >> 20) MiB without x-amz-content-sha256 (cordon hashes the body to sign it)")
            }
            parts.append(part)
            guard case .end = part else {
                state = .collecting(head: head, host: host, port: port, upgrade: upgrade, parts: parts, bytes: bytes)
                return
            }
            requestEnded = true
            var body: [UInt8] = []
            body.reserveCapacity(bytes)
            for case .body(let buffer) in parts { body += buffer.readableBytesView }
            signAndForward(context: context, aws: aws, head: head, body: body, host: host, port: port, upgrade: upgrade, pending: parts)
        case .forwarding(var pending):
            guard !requestEnded else { return queued.append(part) }
            if case .end = part { requestEnded = true }
            pending.append(part)
            state = .forwarding(pending: pending)
        case .streaming(let upstream):
            guard !requestEnded else { return queued.append(part) }
            if case .end = part { requestEnded = true }
            send(part, to: upstream)
            upstream.flush()
        case .done:
            break
        }
    }

    private func start(context: ChannelHandlerContext, head: HTTPRequestHead) {
        headDeadline?.cancel()
        headDeadline = nil
        requestEnded = false
        if let problem = RequestHeadRules.problem(head.headers.map { (name: $0.name, value: $0.value) }) {
            let host = head.headers["host"].first ?? head.uri
            record.target(method: head.method.rawValue, host: host, port: 0)
            let decision = Decision(verdict: .deny, host: host, port: 0, rule: "bad-request", reason: problem)
            record.decided(decision)
            return finish(context: context, EgressProxy.plainResponse(.badRequest, problem))
        }
        let upgrade = Self.isUpgrade(head)
        reusable =
            !upgrade && head.version == .http1_1 && head.isKeepAlive
            && !Self.listContains(head.headers["proxy-connection"], token: "close")
        switch mode {
        case .listener where head.method == .CONNECT: startConnect(context: context, head: head)
        case .listener: startForward(context: context, head: head, upgrade: upgrade)
        case .captured(let destination, let port): startCaptured(context: context, head: head, destination: destination, port: port, upgrade: upgrade)
        case .tunnelled(let host, let port): startTunnelled(context: context, head: head, host: host, port: port, upgrade: upgrade)
        case .intercepted(let host, let port): startTunnelled(context: context, head: head, host: host, port: port, upgrade: upgrade)
        }
    }

    /// Replaces the handler of `context` (a first-bytes reader that found plain HTTP) with `handler`
    /// behind NIO's request decoder, which gets the bytes read so far.
    static func takeOver(from context: ChannelHandlerContext, with handler: HTTPProxyHandler, replaying bytes: [ByteBuffer]) throws {
        let pipeline = context.pipeline.syncOperations
        try install(handler, after: context.handler, in: pipeline)
        for buffer in bytes { context.fireChannelRead(NIOAny(buffer)) }
        context.fireChannelReadComplete()
        pipeline.removeHandler(context: context, promise: nil)
    }

    /// Puts `handler`, behind NIO's request decoder, into `pipeline` after `previous`; the
    /// decoder hands its unparsed bytes on when it leaves (CONNECT, upgrades).
    static func install(_ handler: HTTPProxyHandler, after previous: any ChannelHandler, in pipeline: ChannelPipeline.SynchronousOperations) throws {
        try pipeline.addHandler(handler, position: .after(previous))
        try pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes)), position: .before(handler))
    }

    /// `Connection: upgrade` with an `Upgrade` header (WebSocket over plain HTTP).
    static func isUpgrade(_ head: HTTPRequestHead) -> Bool {
        head.headers.contains(name: "upgrade") && listContains(head.headers["connection"], token: "upgrade")
    }

    /// Whether a body follows the head: a request's body is framed by `Transfer-Encoding` or a
    /// `Content-Length` (`RequestHeadRules` allowed one framing only); with neither, or a length of
    /// 0, the next bytes are the next request's.
    static func hasBody(_ head: HTTPRequestHead) -> Bool {
        head.headers.contains(name: "transfer-encoding") || head.headers["content-length"].contains { $0.trimmingSpaces() != "0" }
    }

    /// Whether comma-separated header values name `token` (lowercase), compared ASCII
    /// case-insensitively with the spaces around each item ignored.
    static func listContains(_ values: [String], token: String) -> Bool {
        for value in values {
            for item in value.utf8.split(separator: UInt8(ascii: ",")) {
                var item = item[...]
                while let first = item.first, first == 0x20 || first == 0x09 { item = item.dropFirst() }
                while let last = item.last, last == 0x20 || last == 0x09 { item = item.dropLast() }
                if item.equalsIgnoringASCIICase(token.utf8) { return true }
            }
        }
        return false
    }

    // MARK: CONNECT

    private func startConnect(context: ChannelHandlerContext, head: HTTPRequestHead) {
        guard let (hostText, port) = parseAuthority(head.uri) else {
            record.target(method: "CONNECT", host: head.uri, port: 0)
            record.decided(Decision(verdict: .deny, host: head.uri, port: 0, rule: "bad-request", reason: "CONNECT target is not host:port"))
            finish(context: context, EgressProxy.plainResponse(.badRequest, "CONNECT needs host:port, got \(head.uri)"))
            return
        }
        guard let host = Host(hostText) else {
            // Not a host (an address in a refused spelling, an invalid name): the policy says why.
            record.target(method: "CONNECT", host: hostText, port: port)
            let decision = proxy.policy.decide(host: hostText, port: port)
            return refuse(context, host: decision.host, port: port, rule: decision.rule, reason: decision.reason)
        }
        if record !== firstRecord {
            // A tunnel after forward requests: its line is written when the connection closes.
            let record = record
            context.channel.closeFuture.whenComplete { _ in record.finish() }
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

    // MARK: Requests

    /// An absolute-form request on the proxy listener.
    private func startForward(context: ChannelHandlerContext, head: HTTPRequestHead, upgrade: Bool) {
        guard let target = ForwardTarget(uri: head.uri) else {
            record.target(method: head.method.rawValue, host: head.uri, port: 0)
            record.decided(Decision(verdict: .deny, host: head.uri, port: 0, rule: "bad-request", reason: "not an absolute http:// URI"))
            finish(
                context: context,
                EgressProxy.plainResponse(.badRequest, "a proxy request needs an absolute http:// URI (use CONNECT for https), got \(head.uri)"))
            return
        }
        record.target(method: head.method.rawValue, host: target.host, port: target.port)
        let hostHeaders = head.headers["host"]
        if hostHeaders.count > 1 || hostHeaders.first.map({ !target.matches(hostHeader: $0) }) ?? false {
            return refuse(
                context, host: Host(target.host)?.description ?? target.host, port: target.port, rule: "host-mismatch",
                reason: "Host header \(hostHeaders.joined(separator: ",")) differs from the request target \(target.host)")
        }
        var outgoing = head
        outgoing.uri = target.pathAndQuery
        if hostHeaders.isEmpty { outgoing.headers.add(name: "Host", value: target.authority) }
        forward(context: context, head: outgoing, host: target.host, port: target.port, fixedAddress: nil, upgrade: upgrade)
    }

    /// The request's one Host header, trimmed; nil (refused, with the rule saying why) when it has
    /// none or an empty one. (A second Host never gets here: `RequestHeadRules` refused it.)
    private func onlyHost(_ head: HTTPRequestHead, context: ChannelHandlerContext, host: String, port: Int) -> String? {
        let hostHeaders = head.headers["host"]
        guard hostHeaders.count == 1, let claimed = hostHeaders.first?.trimmingSpaces(), !claimed.isEmpty else {
            refuse(
                context, host: host, port: port, rule: hostHeaders.isEmpty ? "host-missing" : "host-mismatch",
                reason: hostHeaders.isEmpty ? "HTTP request to \(host) without a Host header" : "more than one Host header")
            return nil
        }
        return claimed
    }

    /// A request on a captured flow: its Host names the destination, which must be an address the
    /// DNS stub handed out for that name.
    private func startCaptured(context: ChannelHandlerContext, head: HTTPRequestHead, destination: IPAddress, port: Int, upgrade: Bool) {
        record.target(method: head.method.rawValue, host: destination.description, port: port)
        guard let claimed = onlyHost(head, context: context, host: destination.description, port: port) else { return }
        guard head.method != .CONNECT else {
            return refuse(
                context, host: destination.description, port: port, rule: "bad-request", reason: "CONNECT sent to \(destination):\(port) as a plain request")
        }
        var outgoing = head
        if ForwardTarget.hasScheme(head.uri) {
            guard let target = ForwardTarget(uri: head.uri), target.matches(hostHeader: claimed) else {
                return refuse(
                    context, host: destination.description, port: port, rule: "host-mismatch",
                    reason: "Host header \(claimed) differs from the request target \(head.uri)")
            }
            outgoing.uri = target.pathAndQuery
        }
        switch proxy.capturedName(claimed: FirstBytes.stripPort(claimed), destination: destination) {
        case .refused(let rule, let reason):
            refuse(context, host: destination.description, port: port, rule: rule, reason: reason)
        case .name(let name):
            record.target(method: head.method.rawValue, host: name, port: port)
            let dialAddress = proxy.nameLookup?.dialAddress(for: destination) ?? destination
            forward(context: context, head: outgoing, host: name, port: port, fixedAddress: dialAddress, upgrade: upgrade)
        }
    }

    /// A request inside a CONNECT or SOCKS tunnel to `host`, or inside TLS the proxy terminated
    /// for `host`: its Host (and an absolute target's host) must be the tunnel's; an intercepted
    /// one gets its bound secrets (`SecretInjector`); it is then admitted and sent like a forward
    /// request.
    private func startTunnelled(context: ChannelHandlerContext, head: HTTPRequestHead, host: Host, port: Int, upgrade: Bool) {
        record.target(method: head.method.rawValue, host: host.description, port: port)
        guard let claimed = onlyHost(head, context: context, host: host.description, port: port) else { return }
        guard head.method != .CONNECT, Host(FirstBytes.stripPort(claimed)) == host else {
            return refuse(
                context, host: host.description, port: port, rule: "host-mismatch",
                reason: "HTTP \(head.method.rawValue) with Host \(claimed) in the tunnel to \(host):\(port)")
        }
        var outgoing = head
        if ForwardTarget.hasScheme(head.uri) {
            guard let target = ForwardTarget(uri: head.uri), Host(target.host) == host else {
                return refuse(
                    context, host: host.description, port: port, rule: "host-mismatch",
                    reason: "request target \(head.uri) in the tunnel to \(host):\(port)")
            }
            outgoing.uri = target.pathAndQuery
        }
        if case .intercepted = mode, let interception = proxy.interception {
            switch interception.injector.apply(to: outgoing, host: host) {
            case .refuse(let rule, let reason):
                return refuse(context, host: host.description, port: port, rule: rule, reason: reason)
            case .forward(let injected, let resign):
                outgoing = injected
                if let meter = interception.usage {
                    switch meter.admit(host: host.description, path: outgoing.uri) {
                    case .notMetered: break
                    case .blocked(let body, let reason):
                        record.decided(Decision(verdict: .deny, host: host.description, port: port, rule: "budget", reason: reason))
                        return finish(context: context, EgressProxy.jsonResponse(.tooManyRequests, body))
                    case .metered(let exchange):
                        // The usage is read from the response: it must come uncompressed.
                        outgoing.headers.replaceOrAdd(name: "Accept-Encoding", value: "identity")
                        usage = exchange
                    }
                }
                if resign, let aws = interception.aws {
                    guard AWSSigning.needsBody(outgoing) else {
                        return signAndForward(context: context, aws: aws, head: outgoing, body: [], host: host, port: port, upgrade: upgrade)
                    }
                    // The signature covers the body's hash: the body is read whole first (bounded).
                    state = .collecting(head: outgoing, host: host, port: port, upgrade: upgrade, parts: [], bytes: 0)
                    return
                }
            }
        }
        forward(context: context, head: outgoing, host: host.description, port: port, fixedAddress: nil, upgrade: upgrade)
    }

    /// Signs `head` again with the real AWS credentials (over `body`'s hash when the client sent
    /// none), then sends it with the parts already read; a request the signer refuses is refused.
    private func signAndForward(
        context: ChannelHandlerContext, aws: AWSSigning, head: HTTPRequestHead, body: [UInt8], host: Host, port: Int, upgrade: Bool,
        pending: [HTTPServerRequestPart] = []
    ) {
        let signed: HTTPRequestHead
        do throws(CordonError) {
            signed = try aws.resign(head, body: AWSSigning.needsBody(head) ? body : nil)
        } catch {
            return refuse(context, host: host.description, port: port, rule: "sigv4", reason: error.message)
        }
        forward(context: context, head: signed, host: host.description, port: port, fixedAddress: nil, upgrade: upgrade, pending: pending)
    }

    /// Admits and dials, then sends the request (origin form) on its own upstream connection;
    /// `pending`: parts of it read already.
    private func forward(
        context: ChannelHandlerContext, head: HTTPRequestHead, host: String, port: Int, fixedAddress: IPAddress?, upgrade: Bool,
        pending: [HTTPServerRequestPart] = []
    ) {
        // A secret's placeholder in a plain request (its target or a header) is on its way out:
        // the proxy swaps values only into requests it terminates for the bound domains.
        if proxy.policy.carriesPlaceholder(head.uri) || head.headers.contains(where: { proxy.policy.carriesPlaceholder($0.value) }) {
            dropPredialled()
            return refuse(
                context, host: host, port: port, rule: "placeholder",
                reason: "the request carries a secret's placeholder: an attempt to send it out (it goes only to its secret's bound domains)")
        }
        state = .forwarding(pending: pending)
        if let (dialled, channel, readmit) = predialled {
            predialled = nil
            // A kept upstream: the request is admitted on its own (rate limits, an approval
            // withdrawn), and one the origin closed meanwhile is dropped for a fresh one.
            let decision = readmit ? (channel.isActive ? proxy.admitNow(host: host, port: port) : nil) : dialled
            if let decision, decision.isAllowed {
                let address = channel.remoteAddress?.ipAddress.flatMap { IPAddress($0) } ?? .v4(0)
                return sendUpstream(.connected(decision, channel, address), head: head, port: port, upgrade: upgrade)
            }
            channel.close(promise: nil)
        }
        proxy.open(host: host, port: port, fixedAddress: fixedAddress, on: context.eventLoop) { [self] opened in
            sendUpstream(opened, head: head, port: port, upgrade: upgrade)
        }
    }

    /// The request's upstream is open (or refused, or failed): the request goes on it.
    private func sendUpstream(_ opened: EgressProxy.Opened, head: HTTPRequestHead, port: Int, upgrade: Bool) {
        guard let context = self.context, case .forwarding(let pending) = state else {
            if case .connected(_, let channel, _) = opened { channel.close(promise: nil) }
            return
        }
        guard let (decision, upstream) = connectedOrFinish(opened, port: port, context: context) else { return }
        lastDecision = decision
        var intercepted = false
        do {
            if case .intercepted(let host, _) = mode, let interception = proxy.interception {
                intercepted = true
                // TLS again towards the real server, verified against the host's trust store
                // (a kept upstream has it already).
                if (try? upstream.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self)) == nil {
                    try upstream.pipeline.syncOperations.addHandler(try interception.upstreamHandler(for: host), position: .first)
                }
            }
            let relay = ResponseRelay(
                client: context.channel, record: record, requestSide: self, requestWasHead: head.method == .HEAD,
                clientKeepsConnection: reusable, upgrade: upgrade, keepsUpstream: intercepted && !upgrade, usage: usage)
            try upstream.pipeline.syncOperations.addHandler(relay)
            self.relay = relay
        } catch {
            upstream.close(promise: nil)
            context.close(promise: nil)
            return
        }
        state = .streaming(upstream: upstream)
        var outgoing = head
        for hop in ["proxy-connection", "proxy-authorization", "connection", "keep-alive"] { outgoing.headers.remove(name: hop) }
        if upgrade {
            outgoing.headers.add(name: "Connection", value: "Upgrade")
        } else {
            outgoing.headers.remove(name: "upgrade")
            if !intercepted { outgoing.headers.add(name: "Connection", value: "close") }
        }
        let request = UpstreamRequest(outgoing)
        self.request = request
        // A request without a body (no framing that says one follows) has nothing to watch.
        bodyCheck =
            Self.hasBody(outgoing)
            ? RequestBodyCheck(forbidden: forbiddenPlaceholders(), leakCheck: leakCheck(for: outgoing), blocks: proxy.interception?.leakCheck?.mode == .block)
            : nil
        upstream.write(request.head(outgoing, allocator: upstream.allocator), promise: nil)
        for part in pending { send(part, to: upstream) }
        upstream.flush()
        do {
            try upstream.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
        } catch {
            upstream.close(promise: nil)
        }
        resumeReading(context: context)
    }

    /// Records the dial outcome; answers a refusal (403) or a dial failure (502) and returns nil,
    /// or returns the connected upstream. Shared by CONNECT and forward requests.
    private func connectedOrFinish(_ opened: EgressProxy.Opened, port: Int, context: ChannelHandlerContext) -> (Decision, any Channel)? {
        switch opened {
        case .refused(let decision):
            record.decided(decision)
            finish(context: context, proxy.refusalResponse(decision, explained: talksToProxy))
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

    /// Writes a part of the request in flight (its head went out already); not flushed.
    private func send(_ part: HTTPServerRequestPart, to upstream: any Channel) {
        switch part {
        case .head: break
        case .body(let buffer):
            record.countUp(buffer.readableBytes)
            usage?.requestBody(byteCount: buffer.readableBytes)
            guard let bodyCheck else { return request.writeBody(buffer, to: upstream) }
            apply(bodyCheck.feed(buffer), upstream: upstream)
        case .end(let trailers):
            if let bodyCheck {
                self.bodyCheck = nil
                guard apply(bodyCheck.finish(), upstream: upstream) else { return }
            }
            request.writeEnd(trailers: trailers, to: upstream)
        }
    }

    /// What the body check said: bytes to send (and alerts to log), or a refusal. False: refused.
    @discardableResult
    private func apply(_ step: RequestBodyCheck.Step, upstream: any Channel) -> Bool {
        switch step {
        case .release(let out, let alerts):
            for finding in alerts { logLeak(finding, blocked: false) }
            request.writeBody(out, to: upstream)
            return true
        case .refuse(let secret):
            refuseMidBody(
                upstream: upstream, rule: "placeholder",
                reason: "the request body to \(record.host) carries the placeholder of \(secret): an attempt to send it where it is not bound")
            return false
        case .leak(let finding):
            logLeak(finding, blocked: true)
            refuseMidBody(
                upstream: upstream, rule: "dlp:" + finding.ruleID,
                reason: "the request body to \(record.host) carries \(finding.message) (\(finding.match ?? "redacted")); egress.dlp: block")
            return false
        }
    }

    /// The gate's rules over an intercepted request's body (`egress.dlp`), for this request.
    private func leakCheck(for head: HTTPRequestHead) -> StreamingLeakCheck? {
        guard case .intercepted = mode, let check = proxy.interception?.leakCheck, check.mode != .off else { return nil }
        let encoding = StreamingLeakCheck.BodyEncoding(contentEncoding: head.headers["content-encoding"].first) ?? .identity
        return StreamingLeakCheck(scanner: check.scanner, label: "request body to " + record.host, encoding: encoding)
    }

    /// A leak-check finding as its own line in the network log (an alert; with `block`, the refusal follows).
    private func logLeak(_ finding: Finding, blocked: Bool) {
        let line = FlowRecord(client: record.client, log: proxy.log)
        line.target(method: "dlp", host: record.host, port: record.port)
        line.decided(
            Decision(
                verdict: blocked ? .deny : .allow, host: record.host, port: record.port, rule: "dlp:" + finding.ruleID,
                reason:
                    "ALERT: the request body to \(record.host) carries \(finding.message) (\(finding.match ?? "redacted"))\(blocked ? "; refused (egress.dlp: block)" : "; sent (egress.dlp: alert)")"
            ))
        line.finish()
    }

    /// The placeholders this request's body must not carry: in plain HTTP every one (values go
    /// only into TLS the proxy terminates for the bound hosts); in an intercepted request those of
    /// secrets bound elsewhere.
    private func forbiddenPlaceholders() -> [(placeholder: String, secret: String)] {
        if let secrets = proxy.interception?.secrets {
            let forbidden = secrets.filter { if case .intercepted(let host, _) = mode { !$0.isBound(to: host) } else { true } }
            return forbidden.map { ($0.placeholder, "secret " + $0.name) }
        }
        return proxy.policy.placeholders.map { ($0, "a secret") }
    }

    /// A forbidden placeholder in the body: the request is cut off upstream before the bytes that
    /// hold it left (the origin never gets a complete request), and refused.
    private func refuseMidBody(upstream: any Channel, rule: String, reason: String) {
        guard let context else { return }
        bodyCheck = nil
        if let relay { upstream.pipeline.syncOperations.removeHandler(relay, promise: nil) }
        upstream.close(promise: nil)
        refuse(context, host: record.host, port: record.port, rule: rule, reason: reason)
    }

    // MARK: Called by the relay

    /// The response is complete (`reusable`: its end was known from its framing and the client was
    /// told the connection stays open). The request's line is written; the connection then
    /// carries the next request, or closes.
    func responseEnded(reusable responseAllows: Bool, keeping upstream: (any Channel)? = nil) {
        usage = nil
        guard let context, case .streaming = state else {
            upstream?.close(promise: nil)
            return
        }
        record.finish()
        // An intercepted connection's upstream (TLS to the same server) carries the next request.
        if let upstream, let decision = lastDecision { predialled = (decision, upstream, true) }
        guard responseAllows, reusable, requestEnded else { return closeAfterAnswer(context: context) }
        context.flush()
        record = FlowRecord(client: record.client, log: proxy.log)
        state = .idle
        requestEnded = false
        armHeadDeadline(context: context)
        let parts = queued
        queued = []
        for part in parts { handle(part, context: context) }
        resumeReading(context: context)
    }

    /// The response was 101 to an upgrade request (its head already written to the client): from
    /// here on the connections are a byte tunnel. The HTTP handlers leave both pipelines; the
    /// decoder's unparsed bytes go upstream.
    func upgraded(upstream: any Channel) {
        guard let context, case .streaming = state else {
            upstream.close(promise: nil)
            return
        }
        state = .done
        do {
            let upstreamPipeline = upstream.pipeline.syncOperations
            upstreamPipeline.removeHandler(try upstreamPipeline.handler(type: ResponseRelay.self), promise: nil)
            let decoder = try context.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try glue(client: context.channel, upstream: upstream, record: record, initialBytes: [], relay: proxy.tunnelRelay)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            context.pipeline.syncOperations.removeHandler(decoder, promise: nil)
            context.channel.read()  // the read held while the response was awaited
        } catch {
            upstream.close(promise: nil)
            context.close(promise: nil)
        }
    }

    /// Called by the relay when the upstream can take more request body again.
    func upstreamBecameWritable() {
        if let context { resumeReading(context: context) }
    }

    private func resumeReading(context: ChannelHandlerContext) {
        guard pendingRead, readsAllowed else { return }
        pendingRead = false
        context.read()
    }

    /// Reads go on while a request waits for its upstream or for its response (so the common
    /// case never toggles the socket's read interest) until `holdLimit` bytes wait, and stop
    /// while the upstream cannot take the request body.
    private var readsAllowed: Bool {
        switch state {
        case .forwarding(let pending): return Self.weight(pending) + Self.weight(queued) < Self.holdLimit
        case .streaming(let upstream): return requestEnded ? Self.weight(queued) < Self.holdLimit : upstream.isWritable
        default: return true
        }
    }

    /// What held parts weigh: their body bytes, and a nominal size for each head or end.
    static func weight(_ parts: [HTTPServerRequestPart]) -> Int {
        parts.reduce(0) { total, part in
            if case .body(let buffer) = part { return total + buffer.readableBytes }
            return total + 512
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { relay?.clientBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if readsAllowed { context.read() } else { pendingRead = true }
    }

    func channelInactive(context: ChannelHandlerContext) {
        dropPredialled()
        switch state {
        case .connecting(_, _, let upstream?): upstream.0.close(promise: nil)
        case .streaming(let upstream): upstream.close(promise: nil)
        default: break
        }
        state = .done
        record.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let tls = error as? NIOSSLError, case .uncleanShutdown = tls {
            // The client ended its TLS without close_notify: a close, not a malformed request.
            return context.close(promise: nil)
        }
        switch state {
        case .idle:
            record.decided(
                Decision(
                    verdict: .deny, host: record.host.isEmpty ? "(unparsed)" : record.host, port: 0, rule: "bad-request",
                    reason: "malformed request head: \(error)"))
            finish(context: context, EgressProxy.plainResponse(.badRequest, "malformed request"))
        case .done:
            break  // answered and closing: what the client still sends is dropped, errors too
        default:
            context.close(promise: nil)
        }
    }

    private func refuse(_ context: ChannelHandlerContext, host: String, port: Int, rule: String, reason: String) {
        let decision = Decision(verdict: .deny, host: host, port: port, rule: rule, reason: reason)
        record.decided(decision)
        finish(context: context, proxy.refusalResponse(decision, explained: talksToProxy))
    }

    /// The client addressed the proxy (CONNECT or a forward request), not a server it was
    /// captured on the way to: the status line of a refusal says why (`RefusalText`).
    private var talksToProxy: Bool {
        if case .listener = mode { return true }
        return false
    }

    private func dropPredialled() {
        predialled?.channel.close(promise: nil)
        predialled = nil
    }

    /// Answers and closes (refusals and errors end the connection).
    private func finish(context: ChannelHandlerContext, _ response: String) {
        context.write(wrapOutboundOut(context.channel.allocator.buffer(string: response)), promise: nil)
        closeAfterAnswer(context: context)
    }

    /// Ends the connection without losing the answer: the output closes once it is written (a
    /// FIN), and what the client still sends (pipelined requests) is read and dropped until it
    /// closes or `lingerTime` passes. Closing with unread bytes would reset the connection, and a
    /// reset can destroy the answer before the client reads it.
    private func closeAfterAnswer(context: ChannelHandlerContext) {
        state = .done
        queued = []
        dropPredialled()
        context.closeBehindWrites(.output)
        let channel = context.channel
        context.eventLoop.assumeIsolated().scheduleTask(in: Self.lingerTime) { channel.close(promise: nil) }
        if pendingRead {
            pendingRead = false
            context.read()
        }
    }

    static let lingerTime = TimeAmount.seconds(2)
}

@available(*, unavailable)
extension HTTPProxyHandler: Sendable {}
