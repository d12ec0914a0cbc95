import CordonCore
import NIOCore
import NIOHTTP1

/// Between the HTTP clients and the one bridged server, on the bridge's single event loop (every
/// member is touched there only): a POSTed request's id waits for the server's response with that
/// id; what the server sends that answers no POST (notifications, its own requests) goes to the
/// open GET stream, or waits for one in a bounded queue.
final class BridgeRouter: @unchecked Sendable {
    /// Messages, and their bytes, kept for a GET stream that is not open; older ones are
    /// dropped beyond either (a server's lines may each be up to `ServerOutputHandler.lineLimit`).
    static let queueLimit = 1024
    static let queueByteLimit = 64 << 20

    let loop: any EventLoop
    /// Set once the listener's port is known; nil: every request is refused.
    var token: BridgeToken?
    private var server: (any Channel)?
    private var pending: [String: EventLoopPromise<[UInt8]>] = [:]
    private var queued: [[UInt8]] = []
    private var queuedBytes = 0
    private var saidDropped = false
    private var stream: (any Channel)?
    private var serverGone = false
    /// Said (escaped) on the bridge's stderr: what the bridge dropped and why.
    let note: @Sendable (String) -> Void

    init(loop: any EventLoop, note: @escaping @Sendable (String) -> Void) {
        self.loop = loop
        self.note = note
    }

    enum Refusal: Error {
        case duplicateID
        case serverGone
    }

    func attach(server: any Channel) {
        loop.preconditionInEventLoop()
        self.server = server
    }

    /// Writes `message` (already one line) to the server; for a request, the future of the
    /// server's response to its id.
    func send(_ line: [UInt8], request id: String?) -> Result<EventLoopFuture<[UInt8]>?, Refusal> {
        loop.preconditionInEventLoop()
        guard !serverGone, let server else { return .failure(.serverGone) }
        var answer: EventLoopFuture<[UInt8]>?
        if let id {
            guard pending[id] == nil else { return .failure(.duplicateID) }
            let promise = loop.makePromise(of: [UInt8].self)
            pending[id] = promise
            answer = promise.futureResult
        }
        server.writeAndFlush(server.allocator.buffer(bytes: line), promise: nil)
        return .success(answer)
    }

    /// One line the server wrote.
    func received(_ line: [UInt8]) {
        loop.preconditionInEventLoop()
        switch JSONRPCEnvelope.classify(line) {
        case .response(let id)?:
            if let promise = pending.removeValue(forKey: id) {
                promise.succeed(line)
            } else {
                forward(line)
            }
        case .request?, .notification?:
            forward(line)
        case nil:
            if !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) {
                note("cordon: the MCP server wrote a line that is not a JSON-RPC message; dropped (\(line.count) bytes)")
            }
        }
    }

    /// The server's stdout ended: every waiting POST is answered 502.
    func serverEnded() {
        loop.preconditionInEventLoop()
        serverGone = true
        let waiting = pending.values
        pending = [:]
        waiting.forEach { $0.fail(Refusal.serverGone) }
        stream?.close(promise: nil)
    }

    /// A GET stream opened: it gets the queued messages, then every later one. False when one
    /// is open already.
    func openStream(_ channel: any Channel) -> Bool {
        loop.preconditionInEventLoop()
        guard stream == nil else { return false }
        stream = channel
        channel.closeFuture.assumeIsolated().whenComplete { [self] _ in
            if stream === channel { stream = nil }
        }
        let waiting = queued
        queued = []
        queuedBytes = 0
        waiting.forEach(forward)
        return true
    }

    private func forward(_ line: [UInt8]) {
        guard let stream else {
            queued.append(line)
            queuedBytes += line.count
            var dropped = 0
            while queued.count > Self.queueLimit || queuedBytes > Self.queueByteLimit, !queued.isEmpty {
                queuedBytes -= queued.removeFirst().count
                dropped += 1
            }
            if dropped > 0 && !saidDropped {
                saidDropped = true
                note(
                    "cordon: no GET stream takes the MCP server's messages; past \(Self.queueLimit) or \(Self.queueByteLimit >> 20) MiB the oldest are dropped")
            }
            return
        }
        // A CR (insignificant JSON whitespace) would end the SSE line: it goes as a space.
        let event = Array("event: message\ndata: ".utf8) + line.map { $0 == 0x0D ? 0x20 : $0 } + Array("\n\n".utf8)
        stream.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(stream.allocator.buffer(bytes: event))), promise: nil)
    }
}
