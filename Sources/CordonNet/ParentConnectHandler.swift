import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// Sends `CONNECT target` to a parent proxy and waits for its 2xx, then leaves the pipeline.
final class ParentConnectHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    struct Refused: Error, CustomStringConvertible {
        var status: String
        var description: String { status }
    }

    private let target: String
    private let done: EventLoopPromise<Void>
    private var received: [UInt8] = []
    private var finished = false

    init(target: String, done: EventLoopPromise<Void>) {
        self.target = target
        self.done = done
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let request = "CONNECT \(target) HTTP/1.1\r\nHost: \(target)\r\n\r\n"
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(string: request)), promise: nil)
        context.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        received += buffer.readBytes(length: buffer.readableBytes) ?? []
        guard let end = FirstBytes.headEnd(received) else {
            if received.count > 16_384 { fail(context, "response head too large") } else { context.read() }
            return
        }
        let statusLine = String(decoding: received.prefix { $0 != 0x0D }, as: UTF8.self)
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, parts[1].hasPrefix("2") else {
            fail(context, statusLine)
            return
        }
        finished = true
        let leftover = Array(received[(end + 4)...])
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        if !leftover.isEmpty {
            context.fireChannelRead(NIOAny(context.channel.allocator.buffer(bytes: leftover)))
        }
        done.succeed(())
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(context, "connection closed")
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context, error)  // TLS errors keep their type: `Dialer.parentFailure` words them
    }

    private func fail(_ context: ChannelHandlerContext, _ why: String) {
        fail(context, Refused(status: why))
    }

    private func fail(_ context: ChannelHandlerContext, _ error: any Error) {
        guard !finished else { return }
        finished = true
        done.fail(error)
        context.close(promise: nil)
    }
}
