import CordonPolicy
import NIOCore

/// A captured flow with its original destination: the name is read from the first bytes (SNI or
/// Host) or, for opaque protocols, taken from the DNS stub's record for the address; the address
/// must be one the stub handed out for that name, and the flow is dialled to it, nowhere else.
final class TransparentHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let proxy: EgressProxy
    private let record: FlowRecord
    private let destination: IPAddress
    private let port: Int
    private var buffered: [ByteBuffer] = []
    private var bytes: [UInt8] = []
    private var decided = false
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?

    init(proxy: EgressProxy, record: FlowRecord, destination: IPAddress, port: Int) {
        self.proxy = proxy
        self.record = record
        self.destination = destination
        self.port = port
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // On a non-web port the server may speak first (ssh, smtp): a client that stays silent
        // briefly is treated as opaque there; on 80/443 the client must speak (TLS, HTTP).
        let wait = EgressPolicy.defaultPorts.contains(port) ? proxy.options.sniffTimeout : min(proxy.options.sniffTimeout, .milliseconds(250))
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: wait) { [self] in
            if !decided { decide(context: context, claimed: nil, opaque: true) }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        timer?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !decided else {
            buffered.append(unwrapInboundIn(data))
            return
        }
        let buffer = unwrapInboundIn(data)
        buffered.append(buffer)
        bytes += buffer.readableBytesView
        switch FirstBytes.inspect(bytes) {
        case .needMore: return
        case .tls(let name):
            record.target(method: "tls", host: destination.description, port: port)
            decide(context: context, claimed: name, opaque: false)
        case .http(let method, _):
            record.target(method: method, host: destination.description, port: port)
            handOverToHTTP(context: context)
        case .malformed(let reason):
            decided = true
            timer?.cancel()
            record.target(method: bytes.first == 0x16 ? "tls" : "http", host: destination.description, port: port)
            refuse(context, rule: "bad-request", reason: "\(reason) (to \(destination):\(port))")
        case .other:
            decide(context: context, claimed: nil, opaque: true)
        }
    }

    /// Plain HTTP: every request on the connection is decided by its own Host (`HTTPProxyHandler`
    /// in `.captured` mode), not just the first.
    private func handOverToHTTP(context: ChannelHandlerContext) {
        decided = true
        timer?.cancel()
        let handler = HTTPProxyHandler(proxy: proxy, record: record, mode: .captured(destination: destination, port: port))
        let pending = buffered
        buffered = []
        do {
            try HTTPProxyHandler.takeOver(from: context, with: handler, replaying: pending)
        } catch {
            context.close(promise: nil)
        }
    }

    private func decide(context: ChannelHandlerContext, claimed: String?, opaque: Bool) {
        decided = true
        timer?.cancel()
        let handedOut = proxy.nameLookup?.names(for: destination) ?? []
        let name: String
        if let claimed {
            switch proxy.capturedName(claimed: claimed, destination: destination) {
            case .refused(let rule, let reason): return refuse(context, rule: rule, reason: reason)
            case .name(let claimedName): name = claimedName
            }
        } else if let recorded = handedOut.first {
            // No SNI/Host: only an explicitly listed non-web port lets opaque traffic through.
            if !opaque, !proxy.policy.allowMissingSNI {
                return refuse(context, rule: "sni-missing", reason: "the TLS ClientHello to \(recorded) carries no server name")
            }
            if opaque, EgressPolicy.defaultPorts.contains(port) {
                return refuse(context, rule: "not-tls", reason: "traffic to \(recorded):\(port) is neither TLS nor HTTP")
            }
            name = recorded
        } else {
            name = destination.description
        }
        record.target(method: opaque ? "tcp" : "tls", host: name, port: port)
        let dialAddress = proxy.nameLookup?.dialAddress(for: destination) ?? destination
        proxy.open(host: name, port: port, fixedAddress: dialAddress, on: context.eventLoop) { [self] opened in
            guard let context = self.context else {
                if case .connected(_, let channel, _) = opened { channel.close(promise: nil) }
                return
            }
            switch opened {
            case .refused(let decision):
                record.decided(decision)
                context.close(promise: nil)  // TLS or opaque: no answer the client could read
            case .failed(let decision, let error):
                record.decided(decision)
                record.failed(error.description)
                context.close(promise: nil)
            case .connected(let decision, let upstream, let address):
                record.decided(decision)
                record.connected(to: address.description)
                let pending = buffered
                buffered = []
                if !opaque, claimed != nil, let interception = proxy.interception, let host = Host(name), interception.intercepts(host) {
                    // A bound (or inspected) host named by the ClientHello: the TLS ends here.
                    do {
                        try Interception.takeOver(
                            from: context, proxy: proxy, interception: interception, record: FlowRecord(client: record.client, log: proxy.log),
                            host: host, port: port, upstream: (decision, upstream), replaying: pending)
                    } catch {
                        record.failed("cannot terminate TLS for \(name): \(error)")
                        upstream.close(promise: nil)
                        context.close(promise: nil)
                    }
                    return
                }
                do {
                    try glue(client: context.channel, upstream: upstream, record: record, initialBytes: [], relay: proxy.tunnelRelay)
                } catch {
                    upstream.close(promise: nil)
                    context.close(promise: nil)
                    return
                }
                for buffer in pending { context.fireChannelRead(wrapInboundOut(buffer)) }
                if !pending.isEmpty { context.fireChannelReadComplete() }
                context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            }
        }
    }

    private func refuse(_ context: ChannelHandlerContext, rule: String, reason: String) {
        let decision = Decision(verdict: .deny, host: record.host, port: port, rule: rule, reason: reason)
        record.decided(decision)
        context.close(promise: nil)  // TLS or opaque: no answer the client could read
    }
}

@available(*, unavailable)
extension TransparentHandler: Sendable {}
