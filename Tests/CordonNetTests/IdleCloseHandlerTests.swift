import NIOCore
import NIOEmbedded
import Testing

@testable import CordonNet

/// A connection that carries nothing either way for the idle timeout is closed; a byte in either
/// direction starts the wait again. Driven by the embedded loop's clock, no real time passes.
struct IdleCloseHandlerTests {
    func connected(timeout: TimeAmount = .seconds(30), addAfterConnect: Bool = false) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        if !addAfterConnect { try channel.pipeline.syncOperations.addHandler(IdleCloseHandler(timeout: timeout)) }
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        if addAfterConnect { try channel.pipeline.syncOperations.addHandler(IdleCloseHandler(timeout: timeout)) }
        return channel
    }

    @Test(arguments: [false, true])
    func aQuietConnectionIsClosedAtTheTimeout(addAfterConnect: Bool) throws {
        let channel = try connected(addAfterConnect: addAfterConnect)
        channel.embeddedEventLoop.advanceTime(by: .seconds(29))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(!channel.isActive)
    }

    @Test func aReadStartsTheWaitAgain() throws {
        let channel = try connected()
        channel.embeddedEventLoop.advanceTime(by: .seconds(20))
        try channel.writeInbound(channel.allocator.buffer(string: "x"))
        #expect(try channel.readInbound(as: ByteBuffer.self) == channel.allocator.buffer(string: "x"))
        channel.embeddedEventLoop.advanceTime(by: .seconds(29))
        #expect(channel.isActive, "closed 29 s after a read")
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(!channel.isActive)
    }

    @Test func aWriteStartsTheWaitAgain() throws {
        let channel = try connected()
        channel.embeddedEventLoop.advanceTime(by: .seconds(25))
        try channel.writeOutbound(channel.allocator.buffer(string: "y"))
        channel.embeddedEventLoop.advanceTime(by: .seconds(25))
        #expect(channel.isActive, "closed 25 s after a write")
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        #expect(!channel.isActive)
    }

    /// Steady trickles keep a connection open for as long as they last, then it is closed.
    @Test func aTrickleKeepsItOpenUntilItStops() throws {
        let channel = try connected(timeout: .seconds(10))
        for _ in 0..<100 {
            channel.embeddedEventLoop.advanceTime(by: .seconds(9))
            try channel.writeInbound(channel.allocator.buffer(string: "."))
            _ = try channel.readInbound(as: ByteBuffer.self)
        }
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(!channel.isActive)
    }

    /// Closed for another reason, the timer goes with the handler: nothing fires later.
    @Test func aClosedConnectionLeavesNoTimer() throws {
        let channel = try connected()
        _ = try channel.finish()
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(!channel.isActive)
    }
}
