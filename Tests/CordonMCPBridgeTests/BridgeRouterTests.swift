import NIOCore
import NIOEmbedded
import NIOHTTP1
import Synchronization
import Testing

@testable import CordonMCPBridge

/// What a bridged server writes that answers no POST waits for a GET stream: bounded in messages
/// and in bytes, so a hostile server cannot make the host's bridge hold unbounded memory.
@Suite struct BridgeRouterTests {
    @Test func unansweredMessagesAreBoundedInBytes() throws {
        let loop = EmbeddedEventLoop()
        let notes = Mutex<[String]>([])
        let router = BridgeRouter(loop: loop, note: { note in notes.withLock { $0.append(note) } })
        let padding = String(repeating: "x", count: 1 << 20)
        for index in 0..<100 {
            router.received(Array(#"{"jsonrpc":"2.0","method":"notifications/message","params":{"n":\#(index),"pad":"\#(padding)"}}"#.utf8))
        }
        let stream = EmbeddedChannel(loop: loop)
        #expect(router.openStream(stream))
        var delivered = 0
        var first: String?
        while let part = try stream.readOutbound(as: HTTPServerResponsePart.self) {
            guard case .body(.byteBuffer(let buffer)) = part else { continue }
            delivered += buffer.readableBytes
            if first == nil { first = buffer.getString(at: buffer.readerIndex, length: min(120, buffer.readableBytes)) }
        }
        #expect(delivered <= BridgeRouter.queueByteLimit + 64 * 1024, "\(delivered) bytes kept")
        #expect(delivered >= (BridgeRouter.queueByteLimit >> 1))
        // The newest are kept, the oldest dropped, and it was said once.
        #expect(first?.contains(#""n":99"#) == false && first?.contains(#""n":0,"#) == false, "\(first ?? "")")
        #expect(notes.withLock { $0.count } == 1)
    }
}
