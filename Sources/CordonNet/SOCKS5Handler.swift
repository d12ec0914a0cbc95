import CordonPolicy
import NIOCore

/// SOCKS5 CONNECT without authentication (RFC 1928). Refusals get their reply code (0x02 "not
/// allowed by ruleset"); allowed tunnels then pass the same SNI/Host gate as CONNECT. The greeting
/// and the request must arrive within `firstBytesTimeout`.
final class SOCKS5Handler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    enum Reply: UInt8 {
        case succeeded = 0x00
        case generalFailure = 0x01
        case notAllowed = 0x02
        case networkUnreachable = 0x03
        case hostUnreachable = 0x04
        case connectionRefused = 0x05
        case ttlExpired = 0x06
        case commandNotSupported = 0x07
        case addressTypeNotSupported = 0x08
    }

    private enum State {
        case greeting
        case request
        case waiting
        case done
    }

    private let proxy: EgressProxy
    private let record: FlowRecord
    private var state = State.greeting
    private var bytes: [UInt8] = []
    private var context: ChannelHandlerContext?

    init(proxy: EgressProxy, record: FlowRecord) {
        self.proxy = proxy
        self.record = record
    }

    private var deadline: Scheduled<Void>?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let limit = proxy.options.firstBytesTimeout
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: limit) { [self] in
            deadline = nil
            guard let context = self.context else { return }
            switch state {
            case .greeting, .request:
                record.target(method: "socks5", host: "(no request)", port: 0)
                record.decided(
                    Decision(
                        verdict: .deny, host: "(no request)", port: 0, rule: "timeout",
                        reason: "no complete SOCKS5 greeting and request within \(describeTimeout(limit))"))
                fail(context, .generalFailure)
            case .waiting, .done:
                break
            }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        deadline?.cancel()
        deadline = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard state != .done else { return }
        bytes += unwrapInboundIn(data).readableBytesView
        // What a client sends before its tunnel exists is held here: bounded.
        guard bytes.count <= FirstBytes.limit else {
            record.failed("more than \(FirstBytes.limit) bytes before the SOCKS5 reply")
            return fail(context, .generalFailure)
        }
        process(context: context)
    }

    private func process(context: ChannelHandlerContext) {
        if case .greeting = state {
            switch SOCKS5Wire.greeting(bytes) {
            case .needMore: return
            case .notSOCKS5: return fail(context, nil)
            case .methods(let offersNoAuthentication, let length):
                bytes.removeFirst(length)
                guard offersNoAuthentication else {
                    record.failed("SOCKS5 client offers no unauthenticated method")
                    context.closeBehindWrites(writing: [0x05, 0xFF])
                    state = .done
                    return
                }
            }
            write(context, [0x05, 0x00])
            state = .request
        }
        guard case .request = state else { return }
        let command: UInt8
        let host: String
        let port: Int
        switch SOCKS5Wire.request(bytes) {
        case .needMore: return
        case .notSOCKS5: return fail(context, .generalFailure)
        case .unsupportedAddressType: return fail(context, .addressTypeNotSupported)
        case .request(let requested, let name, let number, let length):
            (command, host, port) = (requested, name, number)
            bytes.removeFirst(length)
        }
        record.target(method: "socks5", host: host, port: port)
        guard command == 0x01 else {
            record.decided(Decision(verdict: .deny, host: host, port: port, rule: "socks-command", reason: "only SOCKS5 CONNECT is supported"))
            return fail(context, .commandNotSupported)
        }
        state = .waiting
        deadline?.cancel()
        deadline = nil
        proxy.open(host: host, port: port, on: context.eventLoop) { [self] opened in
            guard let context = self.context, case .waiting = state else {
                if case .connected(_, let channel, _) = opened { channel.close(promise: nil) }
                return
            }
            switch opened {
            case .refused(let decision):
                record.decided(decision)
                fail(context, .notAllowed)
            case .failed(let decision, let error):
                record.decided(decision)
                record.failed(error.description)
                fail(context, SOCKS5Handler.reply(for: error))
            case .connected(let decision, let upstream, let address):
                record.decided(decision)
                record.connected(to: address.description)
                connected(context: context, upstream: upstream, decision: decision)
            }
        }
    }

    private func connected(context: ChannelHandlerContext, upstream: any Channel, decision: Decision) {
        guard let expected = Host(decision.host) else { return fail(context, .generalFailure) }
        state = .done
        write(context, [0x05, Reply.succeeded.rawValue, 0x00, 0x01, 0, 0, 0, 0, 0, 0])
        let gate = TunnelGate(proxy: proxy, record: record, expected: expected)
        do {
            try context.pipeline.syncOperations.addHandler(gate, position: .after(self))
            let gateContext = try context.pipeline.syncOperations.context(handler: gate)
            let early = bytes
            bytes = []
            if !early.isEmpty { context.fireChannelRead(wrapInboundOut(context.channel.allocator.buffer(bytes: early))) }
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            gate.arm(context: gateContext, upstream: upstream, decision: decision)
        } catch {
            upstream.close(promise: nil)
            context.close(promise: nil)
        }
    }

    static func reply(for error: DialError) -> Reply {
        switch error {
        case .addressRefused: return .notAllowed
        case .resolutionFailed: return .hostUnreachable
        case .timedOut: return .ttlExpired
        case .parentProxyRefused, .parentProxyTLS: return .generalFailure
        case .connectFailed(let why):
            return why.lowercased().contains("refused") ? .connectionRefused : (why.contains("unreachable") ? .networkUnreachable : .hostUnreachable)
        }
    }

    private func write(_ context: ChannelHandlerContext, _ reply: [UInt8]) {
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(bytes: reply)), promise: nil)
    }

    /// Replies with `code` (nil: just close) and closes.
    private func fail(_ context: ChannelHandlerContext, _ code: Reply?) {
        state = .done
        guard let code else {
            record.failed("not a SOCKS5 client")
            context.close(promise: nil)
            return
        }
        let reply: [UInt8] = [0x05, code.rawValue, 0x00, 0x01, 0, 0, 0, 0, 0, 0]
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(bytes: reply)), promise: promise)
        promise.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}

@available(*, unavailable)
extension SOCKS5Handler: Sendable {}
