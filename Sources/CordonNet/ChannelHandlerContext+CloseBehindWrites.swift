import NIOCore

extension ChannelHandlerContext {
    /// Writes `bytes` (if any), then closes `mode` once they and every write queued before are on
    /// the wire. Never close with writes queued: NIO's full close drops them, and it turns the
    /// half-close (`.output`, a FIN) of a channel whose input has already ended into a full close
    /// at once, so a client that half-closed after its request would lose the end of a long answer.
    func closeBehindWrites(_ mode: CloseMode = .all, writing bytes: [UInt8] = []) {
        let promise = eventLoop.makePromise(of: Void.self)
        writeAndFlush(NIOAny(channel.allocator.buffer(bytes: bytes)), promise: promise)
        let context = self
        promise.futureResult.assumeIsolated().whenComplete { _ in context.close(mode: mode, promise: nil) }
    }
}
