import CordonPolicy
import CordonUsage
import NIOCore

/// Upstream side of a forwarded request: the response goes to the client as the origin sent it,
/// except its head(s), rewritten by `ResponseHead` (hop-by-hop headers out; `Connection: close`
/// in unless the client's connection will carry another request). The body is relayed byte for
/// byte (no decoding and re-encoding), following its framing (`BodyFraming`) so the response
/// ends where its head says even when the origin keeps its connection open; reads are held while
/// the client is full. At the end the upstream closes and the request side decides what becomes
/// of the client's connection.
final class ResponseRelay: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private let client: any Channel
    private let record: FlowRecord
    private weak var requestSide: HTTPProxyHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private let requestWasHead: Bool
    /// The client may reuse its connection (its request allowed it).
    private let clientKeepsConnection: Bool
    /// The request asked for a protocol switch: a 101 makes the connections a tunnel.
    private let upgrade: Bool
    /// Bytes of a response head not complete yet; nil once the final head went out.
    private var head: [UInt8]? = []
    /// Where the body ends, once the final head is known.
    private var framing: BodyFraming?
    /// The client was told the connection stays open.
    private var keptOpen = false
    private var ended = false
    /// The upstream may carry the next request (intercepted connections: TLS to the same server
    /// again would cost a handshake per request): at a complete response the origin did not end,
    /// it goes back to the request side instead of closing.
    private let keepsUpstream: Bool
    /// A metered request's exchange: it reads the token usage from the response as it passes.
    private let usage: UsageExchange?
    private var originCloses = true

    init(
        client: any Channel, record: FlowRecord, requestSide: HTTPProxyHandler, requestWasHead: Bool, clientKeepsConnection: Bool, upgrade: Bool,
        keepsUpstream: Bool = false, usage: UsageExchange? = nil
    ) {
        self.keepsUpstream = keepsUpstream
        self.usage = usage
        self.client = client
        self.record = record
        self.requestSide = requestSide
        self.requestWasHead = requestWasHead
        self.clientKeepsConnection = clientKeepsConnection
        self.upgrade = upgrade
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !ended else { return }
        let buffer = unwrapInboundIn(data)
        guard var pending = head else {
            relayBody(buffer, context: context)
            return
        }
        pending += buffer.readableBytesView
        // Interim (1xx) heads go out as they come; the final one switches to the body.
        while let end = FirstBytes.headEnd(pending) {
            guard let response = ResponseHead(pending[..<end]) else {
                fail(context, "malformed response head")
                return
            }
            pending.removeFirst(end + 4)
            if response.status == 101 {
                guard upgrade else {
                    fail(context, "101 Switching Protocols without an upgrade request")
                    return
                }
                head = nil
                ended = true
                client.write(headBuffer(response, connection: "Upgrade"), promise: nil)
                if !pending.isEmpty { record.countDown(pending.count) }
                client.writeAndFlush(client.allocator.buffer(bytes: pending), promise: nil)
                if let requestSide { requestSide.upgraded(upstream: context.channel) } else { context.close(promise: nil) }
                return
            }
            guard response.isFinal else {
                client.write(headBuffer(response, connection: nil), promise: nil)
                continue
            }
            head = nil
            originCloses = response.originCloses
            usage?.responseHead(status: response.status, contentType: response.contentType, contentEncoding: response.contentEncoding)
            let framing = BodyFraming(response.framing, status: response.status, requestWasHead: requestWasHead)
            self.framing = framing
            keptOpen = clientKeepsConnection && !framing.isCloseDelimited
            client.write(headBuffer(response, connection: keptOpen ? nil : "close"), promise: nil)
            // What follows the head came in this read (an earlier one would have completed it).
            relayBody(buffer.getSlice(at: buffer.writerIndex - pending.count, length: pending.count)!, context: context)
            return
        }
        guard pending.count <= FirstBytes.limit else {
            fail(context, "response head larger than \(FirstBytes.limit) bytes")
            return
        }
        head = pending
    }

    private func headBuffer(_ response: ResponseHead, connection: String?) -> ByteBuffer {
        var out = client.allocator.buffer(capacity: 512)
        response.write(connection: connection, into: &out)
        return out
    }

    /// Body bytes up to the body's end; at the end the response is complete: the client gets
    /// it all and the upstream closes (whatever the origin sends after it is dropped).
    private func relayBody(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        guard var framing else { return }
        let used = framing.consume(buffer.readableBytesView)
        self.framing = framing
        if used > 0 {
            record.countDown(used)
            if let usage { buffer.withUnsafeReadableBytes { usage.responseBody(UnsafeRawBufferPointer(rebasing: $0.prefix(used))) } }
            client.write(buffer.getSlice(at: buffer.readerIndex, length: used)!, promise: nil)
        }
        if framing.isComplete { end(context) }
    }

    /// The response is over: complete by its framing, or cut short by the origin's close (the
    /// client sees that by the body's own framing, or gets no head at all: just the close).
    private func end(_ context: ChannelHandlerContext) {
        guard !ended else { return }
        ended = true
        usage?.finish()
        let complete = framing?.isComplete ?? false
        if keepsUpstream, complete, !originCloses, !(framing?.isCloseDelimited ?? true), let requestSide, context.channel.isActive {
            let upstream = context.channel
            try? upstream.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            requestSide.responseEnded(reusable: keptOpen, keeping: upstream)
            return
        }
        context.close(promise: nil)
        if let requestSide {
            requestSide.responseEnded(reusable: keptOpen && complete)
        } else {
            let client = client
            client.writeAndFlush(client.allocator.buffer(capacity: 0)).whenComplete { _ in client.close(promise: nil) }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) { client.flush() }

    func channelInactive(context: ChannelHandlerContext) {
        originClosed(context)
    }

    /// Upstreams allow half-closure (tunnels need it): here the origin's FIN arrives as an event.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event { originClosed(context) } else { context.fireUserInboundEventTriggered(event) }
    }

    /// The origin's close ends a close-delimited body; anywhere else it cuts the response short.
    private func originClosed(_ context: ChannelHandlerContext) {
        if var framing, framing.isCloseDelimited {
            framing.closed()
            self.framing = framing
        }
        end(context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // After the response's end the upstream is closing (TLS from an origin that closes without
        // close_notify reports it as an error): the client's connection is no longer its business.
        guard !ended else { return }
        fail(context, "\(error)")
    }

    private func fail(_ context: ChannelHandlerContext, _ why: String) {
        record.failed("upstream response: \(why)")
        head = nil
        ended = true
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
