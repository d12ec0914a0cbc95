import NIOCore

/// The listener's first handler: one byte tells SOCKS5 (0x05) from HTTP, then it hands over. A
/// client that sends nothing within `firstBytesTimeout` is closed (no line: it asked for nothing).
final class ProtocolSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let proxy: EgressProxy
    private let record: FlowRecord
    private var deadline: Scheduled<Void>?

    init(proxy: EgressProxy, record: FlowRecord) {
        self.proxy = proxy
        self.record = record
    }

    func handlerAdded(context: ChannelHandlerContext) {
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: proxy.options.firstBytesTimeout) {
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return }
        deadline?.cancel()
        deadline = nil
        let pipeline = context.pipeline.syncOperations
        do {
            if first == 0x05 {
                try pipeline.addHandler(SOCKS5Handler(proxy: proxy, record: record), position: .after(self))
            } else {
                try HTTPProxyHandler.install(HTTPProxyHandler(proxy: proxy, record: record), after: self, in: pipeline)
            }
        } catch {
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
        pipeline.removeHandler(context: context, promise: nil)
    }
}

@available(*, unavailable)
extension ProtocolSniffer: Sendable {}
