import CordonPolicy
import NIOCore

/// Stands between an accepted tunnel and the glue: holds the client's first bytes until they name
/// the tunnel's host (TLS SNI or HTTP Host), refusing a name other than the tunnel's. Bytes
/// collected before it is armed (the ClientHello often rides with the CONNECT) are kept and sent
/// upstream on success. Without TLS interception this is all it sees of a TLS tunnel: the Host
/// inside TLS is not checked. A tunnel that carries plain HTTP leaves the byte glue: every request
/// on it goes through `HTTPProxyHandler` (`.tunnelled`), its Host checked against the tunnel's.
/// The client has `firstBytesTimeout` to name the host once armed; a client that closes first
/// takes the upstream with it. On an explicitly listed non-web port a client that stays silent for
/// `sniffTimeout` may be waiting for a server that speaks first: the server's bytes then reach it
/// (`ServerFirstRelay`), and its own first bytes are judged whenever they come, as above.
final class TunnelGate: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    struct Armed {
        var upstream: any Channel
        var decision: Decision
    }

    private let proxy: EgressProxy
    private let record: FlowRecord
    private let expected: Host
    private var buffered: [ByteBuffer] = []
    private var bytes: [UInt8] = []
    private var armed: Armed?
    private var finished = false
    private var timer: Scheduled<Void>?
    private var deadline: Scheduled<Void>?
    /// The server may speak first: set once a silent client outlasted the sniff timeout.
    private var serverFirst: ServerFirstRelay?

    init(proxy: EgressProxy, record: FlowRecord, expected: Host) {
        self.proxy = proxy
        self.record = record
        self.expected = expected
    }

    /// Starts judging, once the upstream is connected and the client told to go ahead.
    func arm(context: ChannelHandlerContext, upstream: any Channel, decision: Decision) {
        armed = Armed(upstream: upstream, decision: decision)
        // The client may have gone between the CONNECT's answer and now: its inactivity passed
        // this handler before it was armed, so nothing else would close the upstream.
        guard context.channel.isActive else {
            finished = true
            upstream.close(promise: nil)
            return
        }
        armDeadline(context: context)
        if opaqueAllowed {
            // Server-speaks-first protocols on an explicitly listed port: the server may talk to a
            // silent client; the client's first bytes are judged all the same.
            timer = context.eventLoop.assumeIsolated().scheduleTask(in: proxy.options.sniffTimeout) { [self] in
                if !finished, bytes.isEmpty { letServerSpeak(context: context) }
            }
        }
        evaluate(context: context)
    }

    /// The client has `firstBytesTimeout` to complete its first flight (from the tunnel's start,
    /// or from its first byte once the server may speak first).
    private func armDeadline(context: ChannelHandlerContext) {
        deadline?.cancel()
        let limit = proxy.options.firstBytesTimeout
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: limit) { [self] in
            refuse(
                context: context, rule: "timeout",
                reason:
                    "no complete TLS ClientHello or HTTP request head within \(describeTimeout(limit)) of \(serverFirst == nil ? "the tunnel's start" : "the client's first byte")"
            )
        }
    }

    /// A silent client on an explicitly listed port: the server's bytes reach it from now on, and
    /// the wait for its first bytes has no deadline but the idle timeout (a person may be about to
    /// type). Those bytes are judged when they come.
    private func letServerSpeak(context: ChannelHandlerContext) {
        guard !finished, serverFirst == nil, let armed else { return }
        deadline?.cancel()
        deadline = nil
        do {
            serverFirst = try ServerFirstRelay.start(upstream: armed.upstream, client: context.channel, record: record)
        } catch {
            record.failed("cannot relay the server's first bytes: \(error)")
            finished = true
            armed.upstream.close(promise: nil)
            context.close(promise: nil)
        }
    }

    /// Non-TLS, non-HTTP traffic passes only on a port the profile listed explicitly.
    private var opaqueAllowed: Bool {
        guard let armed else { return false }
        return !EgressPolicy.defaultPorts.contains(armed.decision.port)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !finished else { return }
        let buffer = unwrapInboundIn(data)
        if serverFirst != nil, bytes.isEmpty, buffer.readableBytes > 0 { armDeadline(context: context) }
        buffered.append(buffer)
        bytes += buffer.readableBytesView
        evaluate(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimers()
        if !finished { armed?.upstream.close(promise: nil) }
        context.fireChannelInactive()
    }

    /// The client shut its side before naming the host: nothing more can come, so the tunnel ends
    /// and both descriptors go (a half-closed client would otherwise hold them until the idle
    /// timeout). Before the gate is armed, the CONNECT handler behind it decides.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let event = event as? ChannelEvent, case .inputClosed = event, armed != nil, !finished else {
            return context.fireUserInboundEventTriggered(event)
        }
        finished = true
        cancelTimers()
        record.failed("the client closed the tunnel before naming its host")
        armed?.upstream.close(promise: nil)
        context.close(promise: nil)
    }

    func handlerRemoved(context: ChannelHandlerContext) { cancelTimers() }

    private func cancelTimers() {
        timer?.cancel()
        deadline?.cancel()
        timer = nil
        deadline = nil
    }

    /// Judging has ended: a relay of the server's first bytes leaves the upstream.
    private func endServerFirst() {
        guard let relay = serverFirst, let armed else { return }
        serverFirst = nil
        relay.stop(upstream: armed.upstream)
    }

    private func evaluate(context: ChannelHandlerContext) {
        guard !finished, let armed else { return }
        let host = armed.decision.host
        switch FirstBytes.inspect(bytes) {
        case .needMore:
            return
        case .tls(let serverName):
            guard let serverName else {
                if proxy.policy.allowMissingSNI || expected.address != nil {
                    pass(context: context)
                } else {
                    refuse(context: context, rule: "sni-missing", reason: "the TLS ClientHello for \(host) carries no server name")
                }
                return
            }
            if Host(serverName) == expected {
                if let interception = proxy.interception, interception.intercepts(expected) {
                    intercept(context: context, interception: interception)
                } else {
                    pass(context: context)
                }
            } else {
                refuse(context: context, rule: "sni-mismatch", reason: "TLS server name \(serverName) differs from the tunnel host \(host)")
            }
        case .http(_, let hostHeader):
            if let hostHeader, Host(hostHeader) == expected {
                handOverToHTTP(context: context)
            } else {
                refuse(context: context, rule: "host-mismatch", reason: "HTTP Host \(hostHeader ?? "(none)") differs from the tunnel host \(host)")
            }
        case .malformed(let reason):
            refuse(context: context, rule: "bad-request", reason: "\(reason) (tunnel to \(host))")
        case .other:
            if opaqueAllowed {
                pass(context: context)
            } else {
                refuse(context: context, rule: "not-tls", reason: "traffic to \(host):\(armed.decision.port) is neither TLS nor HTTP")
            }
        }
    }

    /// Plain HTTP in the tunnel: every request is checked and sent on its own (`HTTPProxyHandler`
    /// in `.tunnelled` mode), the first on the upstream dialled for the tunnel, so a second
    /// request cannot name another host than the tunnel's. The tunnel keeps its own line; each
    /// request gets one.
    private func handOverToHTTP(context: ChannelHandlerContext) {
        guard let (armed, pending) = handOff() else { return }
        let handler = HTTPProxyHandler(
            proxy: proxy, record: FlowRecord(client: record.client, log: proxy.log), mode: .tunnelled(host: expected, port: armed.decision.port),
            predialled: (armed.decision, armed.upstream))
        do {
            try HTTPProxyHandler.takeOver(from: context, with: handler, replaying: pending)
        } catch {
            armed.upstream.close(promise: nil)
            context.close(promise: nil)
        }
    }

    /// A host bound to a secret (or inspected): the TLS ends here and each request is read.
    private func intercept(context: ChannelHandlerContext, interception: Interception) {
        guard let (armed, pending) = handOff() else { return }
        do {
            try Interception.takeOver(
                from: context, proxy: proxy, interception: interception, record: FlowRecord(client: record.client, log: proxy.log), host: expected,
                port: armed.decision.port, upstream: (armed.decision, armed.upstream), replaying: pending)
        } catch {
            record.failed("cannot terminate TLS for \(expected): \(error)")
            armed.upstream.close(promise: nil)
            context.close(promise: nil)
        }
    }

    /// Ends the gate's judging once: the armed upstream and the bytes held so far, which the next
    /// handler gets; nil when it has ended already.
    private func handOff() -> (Armed, [ByteBuffer])? {
        guard !finished, let armed else { return nil }
        finished = true
        cancelTimers()
        endServerFirst()
        defer { buffered = [] }
        return (armed, buffered)
    }

    private func pass(context: ChannelHandlerContext) {
        guard let (armed, pending) = handOff() else { return }
        do {
            try glue(client: context.channel, upstream: armed.upstream, record: record, initialBytes: [], relay: proxy.tunnelRelay)
        } catch {
            record.failed("cannot join the tunnel: \(error)")
            armed.upstream.close(promise: nil)
            context.close(promise: nil)
            return
        }
        // The glue sits behind this handler: hand it the held bytes, then step aside.
        for buffer in pending { context.fireChannelRead(wrapInboundOut(buffer)) }
        if !pending.isEmpty { context.fireChannelReadComplete() }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    private func refuse(context: ChannelHandlerContext, rule: String, reason: String) {
        guard let (armed, _) = handOff() else { return }
        record.decided(Decision(verdict: .deny, host: armed.decision.host, port: armed.decision.port, rule: rule, reason: reason))
        armed.upstream.close(promise: nil)
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension TunnelGate: Sendable {}
