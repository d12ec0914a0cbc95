import CordonCore
import FoundationEssentials
import NIOCore

/// Splits the control socket's byte stream into lines (a request is one JSON line, 64 KiB at most).
struct LineDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > 65536 { throw CordonError(.invalidArgument, "control request too long") }
            return .needMoreData
        }
        let line = buffer.readSlice(length: newline - buffer.readerIndex + 1)!
        context.fireChannelRead(NIOAny(line))
        return .continue
    }
}

/// Answers each request line on a control connection with one response line.
final class ControlHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let broker: ApprovalBroker

    init(broker: ApprovalBroker) { self.broker = broker }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = Array(unwrapInboundIn(data).readableBytesView)
        let response = ControlServer.handle(line: bytes, broker: broker)
        var out = (try? JSONEncoder().encode(response)).map { [UInt8]($0) } ?? Array(#"{"ok":false}"#.utf8)
        out.append(UInt8(ascii: "\n"))
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: out)), promise: nil)
    }
}

@available(*, unavailable)
extension ControlHandler: Sendable {}
