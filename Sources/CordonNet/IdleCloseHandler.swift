import CordonPolicy
import NIOCore

/// Closes a connection that carried no bytes either way for `timeout`. Activity is noted when
/// bytes are read and when they are handed on for writing: unlike NIO's `IdleStateHandler`, no
/// promise per write (a flow whose writes never complete stops reading, so it goes quiet and is
/// closed all the same). One timer per connection, re-armed for the time left when it fires.
/// Time is the event loop's clock (`eventLoop.now`), so an `EmbeddedEventLoop` can drive it.
final class IdleCloseHandler: ChannelDuplexHandler {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny

    private let timeout: TimeAmount
    private var lastActivity = NIODeadline.uptimeNanoseconds(0)
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount) { self.timeout = timeout }

    func handlerAdded(context: ChannelHandlerContext) {
        lastActivity = context.eventLoop.now
        if context.channel.isActive { arm(context, in: timeout) }
    }

    func channelActive(context: ChannelHandlerContext) {
        if timer == nil {
            lastActivity = context.eventLoop.now
            arm(context, in: timeout)
        }
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { disarm() }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastActivity = context.eventLoop.now
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        lastActivity = context.eventLoop.now
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext, in delay: TimeAmount) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
            let quiet = context.eventLoop.now - lastActivity
            if quiet >= timeout { context.close(promise: nil) } else { arm(context, in: timeout - quiet) }
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }
}

@available(*, unavailable)
extension IdleCloseHandler: Sendable {}
