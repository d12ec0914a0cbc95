import NIOCore

final class DNSStubHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let stub: DNSStub

    init(stub: DNSStub) {
        self.stub = stub
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let bytes = Array(envelope.data.readableBytesView)
        let remote = envelope.remoteAddress
        switch stub.answerNow(bytes, client: EgressProxy.describe(remote)) {
        case .ready(let reply):
            guard let reply else { return }
            context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: remote, data: context.channel.allocator.buffer(bytes: reply))), promise: nil)
        case .needsLookup(let lookup):
            let stub = stub
            let channel = context.channel
            Task {
                let reply = await stub.answer(lookup)
                channel.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: channel.allocator.buffer(bytes: reply)), promise: nil)
            }
        }
    }
}

@available(*, unavailable)
extension DNSStubHandler: Sendable {}
