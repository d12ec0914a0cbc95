import NIOCore

/// A client that stays silent on an explicitly listed non-web port may be waiting for a server
/// that speaks first (ssh, smtp, a database banner). This handler, in the upstream's pipeline,
/// carries the server's bytes down to the client while the client has said nothing; the client's
/// first bytes, whenever they come, are still judged by the handler that holds them (TLS SNI and
/// HTTP Host as on any other flow). Silence is never a way past that judgement: a client that
/// waited out the sniff timeout and then sends a ClientHello or a request naming another host is
/// refused as if it had sent them at once.
///
/// What the server sends before the client speaks is bounded (`limit`): past it, the upstream is
/// not read until the client's first bytes are judged.
final class ServerFirstRelay: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    /// The most bytes carried down before the client has spoken.
    static let limit = 64 * 1024

    private let client: any Channel
    private let record: FlowRecord?
    private var carried = 0

    init(client: any Channel, record: FlowRecord?) {
        self.client = client
        self.record = record
    }

    /// Puts a relay into `upstream`'s pipeline and starts reading it. Both channels share one event loop.
    static func start(upstream: any Channel, client: any Channel, record: FlowRecord?) throws -> ServerFirstRelay {
        precondition(upstream.eventLoop === client.eventLoop)
        let relay = ServerFirstRelay(client: client, record: record)
        try upstream.pipeline.syncOperations.addHandler(relay)
        try upstream.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
        return relay
    }

    /// The client spoke (or the flow ends): the relay leaves and the upstream is not read until the
    /// next handler (glue, HTTP relay) asks.
    func stop(upstream: any Channel) {
        try? upstream.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
        upstream.pipeline.syncOperations.removeHandler(self, promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        carried += buffer.readableBytes
        record?.countDown(buffer.readableBytes)
        client.write(buffer, promise: nil)
        if carried >= Self.limit { try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        client.flush()
    }

    /// The server ended before the client spoke: what it sent still reaches the client, which then closes.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let event = event as? ChannelEvent, case .inputClosed = event else { return context.fireUserInboundEventTriggered(event) }
        closeClient()
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closeClient()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func closeClient() {
        let client = self.client
        client.writeAndFlush(client.allocator.buffer(capacity: 0)).whenComplete { _ in client.close(promise: nil) }
    }
}

@available(*, unavailable)
extension ServerFirstRelay: Sendable {}
