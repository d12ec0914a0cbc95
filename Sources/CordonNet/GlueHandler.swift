import CordonPolicy
import NIOCore

/// Joins two channels byte for byte: partner writes, flush on read-complete, half-close on input
/// EOF, and `read()` held while the partner cannot take more (so nothing accumulates in memory).
/// With a `TunnelMover`, a tunnel that turns out to carry bulk data leaves for the splice relay.
final class GlueHandler {
    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private let record: FlowRecord?
    /// In the client's pipeline: its bytes go up; the upstream side's come down.
    private let isClientSide: Bool
    /// Shared by both sides of a tunnel that may move to the splice relay.
    fileprivate var mover: TunnelMover?

    private init(clientSide: Bool, record: FlowRecord?) {
        self.isClientSide = clientSide
        self.record = record
    }

    /// `clientSide` goes into the client's pipeline and counts bytes up; the other counts bytes down.
    static func matchedPair(record: FlowRecord?) -> (clientSide: GlueHandler, upstreamSide: GlueHandler) {
        let client = GlueHandler(clientSide: true, record: record)
        let upstream = GlueHandler(clientSide: false, record: record)
        client.partner = upstream
        upstream.partner = client
        return (client, upstream)
    }

    private func partnerWrite(_ data: NIOAny) { context?.write(data, promise: nil) }
    private func partnerFlush() { context?.flush() }
    private func partnerWriteEOF() { context?.closeBehindWrites(.output) }
    /// The other side is gone: what it sent before still reaches this side's peer, then it closes.
    private func partnerCloseFull() { context?.closeBehindWrites() }

    private func partnerBecameWritable() {
        if pendingRead {
            pendingRead = false
            context?.read()
        }
    }

    private var partnerWritable: Bool { context?.channel.isWritable ?? false }
}

extension GlueHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.partner = nil
        self.mover = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data).readableBytes
        if isClientSide { record?.countUp(bytes) } else { record?.countDown(bytes) }
        mover?.counted(bytes, fromClient: isClientSide)
        partner?.partnerWrite(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
        mover?.moveIfQuiet()
    }

    func channelInactive(context: ChannelHandlerContext) {
        mover?.abandon()
        // NIO reports the end of a connection shut both ways (EPOLLHUP) as a reset, without an
        // end of input first: the partner closes behind its queued writes in every case.
        partner?.partnerCloseFull()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            mover?.abandon()
            partner?.partnerWriteEOF()
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            partner?.partnerBecameWritable()
            mover?.moveIfQuiet()
        }
    }

    func read(context: ChannelHandlerContext) {
        if let partner, partner.partnerWritable {
            context.read()
        } else {
            pendingRead = true
        }
    }
}

@available(*, unavailable)
extension GlueHandler: Sendable {}

extension ChannelPipeline.SynchronousOperations {
    /// Re-emits bytes collected before the glue existed, then a read-complete so they are flushed.
    func fireBuffered(_ bytes: [ByteBuffer]) {
        for buffer in bytes { fireChannelRead(NIOAny(buffer)) }
        if !bytes.isEmpty { fireChannelReadComplete() }
    }
}

/// Glues a client channel to an upstream channel on the same event loop, first sending
/// `initialBytes` (bytes the client sent before the tunnel was ready) upstream. With a `relay`,
/// a tunnel of plain sockets (no TLS of cordon's on either side) moves to it once it has carried
/// the relay's threshold of bytes one way.
func glue(client: any Channel, upstream: any Channel, record: FlowRecord?, initialBytes: [ByteBuffer], relay: SpliceRelay? = nil) throws {
    precondition(client.eventLoop === upstream.eventLoop)
    let (clientSide, upstreamSide) = GlueHandler.matchedPair(record: record)
    if let relay, !TunnelMover.transformsBytes(client), !TunnelMover.transformsBytes(upstream) {
        let mover = TunnelMover(relay: relay, record: record, client: client, upstream: upstream)
        clientSide.mover = mover
        upstreamSide.mover = mover
    }
    try upstream.pipeline.syncOperations.addHandler(upstreamSide)
    try client.pipeline.syncOperations.addHandler(clientSide)
    // Half-close only inside tunnels; elsewhere a client's EOF ends the flow.
    guard let clientOptions = client.syncOptions, let upstreamOptions = upstream.syncOptions else { throw ChannelError.operationUnsupported }
    try clientOptions.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
    client.pipeline.syncOperations.fireBuffered(initialBytes)
    try upstreamOptions.setOption(ChannelOptions.autoRead, value: true)
    try clientOptions.setOption(ChannelOptions.autoRead, value: true)
}
