import NIOCore

/// Stands between an accepted tunnel and the glue: holds the client's first bytes until they name
/// the tunnel's host (TLS SNI or HTTP Host), refusing domain fronting. Bytes collected before it is
/// armed (the ClientHello often rides with the CONNECT) are kept and sent upstream on success.
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

    init(proxy: EgressProxy, record: FlowRecord, expected: Host) {
        self.proxy = proxy
        self.record = record
        self.expected = expected
    }

    /// Starts judging, once the upstream is connected and the client told to go ahead.
    func arm(context: ChannelHandlerContext, upstream: any Channel, decision: Decision) {
        armed = Armed(upstream: upstream, decision: decision)
        if opaqueAllowed {
            // Server-speaks-first protocols on an explicitly listed port: pass if the client is silent.
            timer = context.eventLoop.assumeIsolated().scheduleTask(in: proxy.options.sniffTimeout) { [self] in
                if !finished, bytes.isEmpty { pass(context: context) }
            }
        }
        evaluate(context: context)
    }

    /// Non-TLS, non-HTTP traffic passes only on a port the profile listed explicitly.
    private var opaqueAllowed: Bool {
        guard let armed else { return false }
        return !EgressPolicy.defaultPorts.contains(armed.decision.port)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !finished else { return }
        let buffer = unwrapInboundIn(data)
        buffered.append(buffer)
        bytes += buffer.readableBytesView
        evaluate(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        armed?.upstream.close(promise: nil)
        context.fireChannelInactive()
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
                pass(context: context)
            } else {
                refuse(context: context, rule: "sni-mismatch", reason: "TLS server name \(serverName) differs from the tunnel host \(host)")
            }
        case .http(_, let hostHeader):
            if let hostHeader, Host(hostHeader) == expected {
                pass(context: context)
            } else {
                refuse(context: context, rule: "host-mismatch", reason: "HTTP Host \(hostHeader ?? "(none)") differs from the tunnel host \(host)")
            }
        case .other:
            if opaqueAllowed {
                pass(context: context)
            } else {
                refuse(context: context, rule: "not-tls", reason: "traffic to \(host):\(armed.decision.port) is neither TLS nor HTTP")
            }
        }
    }

    private func pass(context: ChannelHandlerContext) {
        guard !finished, let armed else { return }
        finished = true
        timer?.cancel()
        let pending = buffered
        buffered = []
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
        guard !finished, let armed else { return }
        finished = true
        timer?.cancel()
        record.decided(Decision(verdict: .deny, host: armed.decision.host, port: armed.decision.port, rule: rule, reason: reason))
        armed.upstream.close(promise: nil)
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension TunnelGate: Sendable {}
