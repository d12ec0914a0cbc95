import CordonPolicy
import NIOCore

/// A captured flow with its original destination: the name is read from the first bytes (SNI or
/// Host) or, for opaque protocols, taken from the DNS stub's record for the address; the address
/// must be one the stub handed out for that name, and the flow is dialled to it, nowhere else.
final class TransparentHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private enum Phase {
        /// Reading the client's first bytes.
        case sniffing
        /// Decided and dialling; `silent`: dialled because the client said nothing (its first
        /// bytes are judged once the upstream is there).
        case dialling(silent: Bool)
        /// Dialled for a silent client: the server's bytes reach it (`relay`) and its first bytes,
        /// when they come, must name `name` (the name the dial was decided for) or carry no name.
        case serverFirst(relay: ServerFirstRelay, upstream: any Channel, decision: Decision, name: String)
        case done
    }

    private let proxy: EgressProxy
    private let record: FlowRecord
    private let destination: IPAddress
    private let port: Int
    private var buffered: [ByteBuffer] = []
    private var bytes: [UInt8] = []
    private var phase = Phase.sniffing
    private var timer: Scheduled<Void>?
    private var deadline: Scheduled<Void>?
    private var context: ChannelHandlerContext?

    init(proxy: EgressProxy, record: FlowRecord, destination: IPAddress, port: Int) {
        self.proxy = proxy
        self.record = record
        self.destination = destination
        self.port = port
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // On a non-web port the server may speak first (ssh, smtp): a client still silent after a
        // moment is dialled as opaque there, and its first bytes are judged when they come; on
        // 80/443 the client must speak (TLS, HTTP).
        let web = EgressPolicy.defaultPorts.contains(port)
        let wait = web ? proxy.options.sniffTimeout : min(proxy.options.sniffTimeout, .milliseconds(250))
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: wait) { [self] in
            guard case .sniffing = phase else { return }
            if web {
                decide(context: context, claimed: nil, opaque: true)  // refused: neither TLS nor HTTP
            } else if bytes.isEmpty {
                decide(context: context, claimed: nil, opaque: true, silent: true)
            }
            // Part of a first flight: it has until the deadline to complete.
        }
        armDeadline(context: context, from: "the connection's start")
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        timer?.cancel()
        deadline?.cancel()
    }

    /// The client has `firstBytesTimeout` to complete its first flight, from the connection's start
    /// or, once the server may speak first, from its first byte.
    private func armDeadline(context: ChannelHandlerContext, from start: String) {
        deadline?.cancel()
        let limit = proxy.options.firstBytesTimeout
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: limit) { [self] in
            switch phase {
            case .sniffing where !bytes.isEmpty, .serverFirst where !bytes.isEmpty:
                record.target(method: bytes.first == 0x16 ? "tls" : "tcp", host: record.host.isEmpty ? destination.description : record.host, port: port)
                refuse(
                    context, rule: "timeout",
                    reason: "no complete TLS ClientHello or HTTP request head within \(describeTimeout(limit)) of \(start) (to \(destination):\(port))")
            default: break
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        switch phase {
        case .sniffing:
            buffered.append(buffer)
            bytes += buffer.readableBytesView
            sniff(context: context)
        case .dialling(let silent):
            buffered.append(buffer)
            if silent { bytes += buffer.readableBytesView }
        case .serverFirst:
            if bytes.isEmpty, buffer.readableBytes > 0 { armDeadline(context: context, from: "the client's first byte") }
            buffered.append(buffer)
            bytes += buffer.readableBytesView
            judgeFirstFlight(context: context)
        case .done:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .serverFirst(_, let upstream, _, _) = phase { upstream.close(promise: nil) }
        phase = .done
        context.fireChannelInactive()
    }

    private func sniff(context: ChannelHandlerContext) {
        switch FirstBytes.inspect(bytes) {
        case .needMore: return
        case .tls(let name):
            record.target(method: "tls", host: destination.description, port: port)
            decide(context: context, claimed: name, opaque: false)
        case .http(let method, _):
            record.target(method: method, host: destination.description, port: port)
            handOverToHTTP(context: context)
        case .malformed(let reason):
            record.target(method: bytes.first == 0x16 ? "tls" : "http", host: destination.description, port: port)
            refuse(context, rule: "bad-request", reason: "\(reason) (to \(destination):\(port))")
        case .other:
            decide(context: context, claimed: nil, opaque: true)
        }
    }

    /// The first bytes of a client that was silent while its flow was dialled: judged by the same
    /// rules as first bytes that came at once, against the name the dial was decided for.
    private func judgeFirstFlight(context: ChannelHandlerContext) {
        guard case .serverFirst(let relay, let upstream, let decision, let name) = phase else { return }
        switch FirstBytes.inspect(bytes) {
        case .needMore:
            return
        case .tls(let claimed):
            record.target(method: "tls", host: name, port: port)
            guard let claimed else {
                guard proxy.policy.allowMissingSNI else {
                    return refuse(context, rule: "sni-missing", reason: "the TLS ClientHello to \(name) carries no server name")
                }
                return join(context: context, relay: relay, upstream: upstream, decision: decision, tlsHost: nil)
            }
            switch proxy.capturedName(claimed: claimed, destination: destination) {
            case .refused(let rule, let reason):
                refuse(context, rule: rule, reason: reason)
            case .name(let claimedName):
                guard let host = Host(claimedName), host == Host(name) else {
                    return refuse(context, rule: "sni-mismatch", reason: "TLS server name \(claimed) differs from \(name), the name this flow was dialled for")
                }
                join(context: context, relay: relay, upstream: upstream, decision: decision, tlsHost: host)
            }
        case .http(let method, _):
            // Every request is decided on its own and dialled on its own: this upstream goes.
            record.target(method: method, host: destination.description, port: port)
            relay.stop(upstream: upstream)
            upstream.close(promise: nil)
            handOverToHTTP(context: context)
        case .malformed(let reason):
            refuse(context, rule: "bad-request", reason: "\(reason) (to \(destination):\(port))")
        case .other:
            join(context: context, relay: relay, upstream: upstream, decision: decision, tlsHost: nil)
        }
    }

    /// Plain HTTP: every request on the connection is decided by its own Host (`HTTPProxyHandler`
    /// in `.captured` mode), not just the first.
    private func handOverToHTTP(context: ChannelHandlerContext) {
        phase = .done
        cancelTimers()
        let handler = HTTPProxyHandler(proxy: proxy, record: record, mode: .captured(destination: destination, port: port))
        let pending = buffered
        buffered = []
        do {
            try HTTPProxyHandler.takeOver(from: context, with: handler, replaying: pending)
        } catch {
            context.close(promise: nil)
        }
    }

    private func cancelTimers() {
        timer?.cancel()
        deadline?.cancel()
        timer = nil
        deadline = nil
    }

    private func decide(context: ChannelHandlerContext, claimed: String?, opaque: Bool, silent: Bool = false) {
        phase = .dialling(silent: silent)
        if !silent { cancelTimers() }
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
            guard let context = self.context, case .dialling = phase else {
                if case .connected(_, let channel, _) = opened { channel.close(promise: nil) }
                return
            }
            switch opened {
            case .refused(let decision):
                record.decided(decision)
                phase = .done
                context.close(promise: nil)  // TLS or opaque: no answer the client could read
            case .failed(let decision, let error):
                record.decided(decision)
                record.failed(error.description)
                phase = .done
                context.close(promise: nil)
            case .connected(let decision, let upstream, let address):
                record.decided(decision)
                record.connected(to: address.description)
                guard !silent else { return listen(context: context, upstream: upstream, decision: decision, name: name) }
                let host = !opaque && claimed != nil ? Host(name) : nil
                join(context: context, relay: nil, upstream: upstream, decision: decision, tlsHost: host)
            }
        }
    }

    /// Dialled for a silent client: the server may speak first; the client's first bytes (some may
    /// have come during the dial) are judged when complete.
    private func listen(context: ChannelHandlerContext, upstream: any Channel, decision: Decision, name: String) {
        do {
            let relay = try ServerFirstRelay.start(upstream: upstream, client: context.channel, record: record)
            phase = .serverFirst(relay: relay, upstream: upstream, decision: decision, name: name)
        } catch {
            record.failed("cannot relay the server's first bytes: \(error)")
            phase = .done
            upstream.close(promise: nil)
            context.close(promise: nil)
            return
        }
        timer?.cancel()
        timer = nil
        deadline?.cancel()
        deadline = nil
        if !bytes.isEmpty {
            armDeadline(context: context, from: "the client's first byte")
            judgeFirstFlight(context: context)
        }
    }

    /// The flow goes through: TLS the proxy terminates for a bound (or inspected) `tlsHost`, else
    /// bytes glued both ways; the bytes held so far go first.
    private func join(context: ChannelHandlerContext, relay: ServerFirstRelay?, upstream: any Channel, decision: Decision, tlsHost: Host?) {
        phase = .done
        cancelTimers()
        relay?.stop(upstream: upstream)
        let pending = buffered
        buffered = []
        if let tlsHost, let interception = proxy.interception, interception.intercepts(tlsHost) {
            do {
                try Interception.takeOver(
                    from: context, proxy: proxy, interception: interception, record: FlowRecord(client: record.client, log: proxy.log),
                    host: tlsHost, port: port, upstream: (decision, upstream), replaying: pending)
            } catch {
                record.failed("cannot terminate TLS for \(tlsHost): \(error)")
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

    private func refuse(_ context: ChannelHandlerContext, rule: String, reason: String) {
        if case .serverFirst(let relay, let upstream, _, _) = phase {
            relay.stop(upstream: upstream)
            upstream.close(promise: nil)
        }
        phase = .done
        cancelTimers()
        let decision = Decision(verdict: .deny, host: record.host, port: port, rule: rule, reason: reason)
        record.decided(decision)
        context.close(promise: nil)  // TLS or opaque: no answer the client could read
    }
}

@available(*, unavailable)
extension TransparentHandler: Sendable {}
