import CordonOS
import CordonPolicy
import NIOCore
import NIOSSL

#if canImport(Glibc)
    import Glibc
#endif

/// Moves a glued tunnel to the splice relay once it has carried `relay.threshold` bytes one way.
///
/// NIO does not give out a channel's descriptor, but it asks the socket for options: each
/// socket's cookie (SO_COOKIE, unique for the socket's life) finds the descriptor among the
/// process's own, and a duplicate checked against the cookie is the relay's. The move waits for
/// a quiet point: after a read's bytes were flushed, neither channel holding a byte NIO has not
/// written (bytes NIO has read are always passed on within the same read). There, on the loop,
/// both channels close (NIO only close(2)s its descriptor: the duplicates keep the connections)
/// and the relay takes the tunnel with its flow record; the log line is written when the relay
/// ends the tunnel. Nothing is held while waiting, so a client that sends everything before it
/// reads cannot deadlock the tunnel; a tunnel that ends or fails before a quiet point stays glued.
final class TunnelMover {
    enum Phase {
        case gluing
        /// The cookies are being read.
        case preparing
        /// Moves at the next quiet point.
        case ready(client: UInt64, upstream: UInt64)
        case moved, abandoned
    }

    private(set) var phase = Phase.gluing
    private let relay: SpliceRelay
    private let record: FlowRecord?
    private var client: (any Channel)?
    private var upstream: (any Channel)?
    private var carried = (up: 0, down: 0)

    init(relay: SpliceRelay, record: FlowRecord?, client: any Channel, upstream: any Channel) {
        self.relay = relay
        self.record = record
        self.client = client
        self.upstream = upstream
    }

    /// A TLS handler of cordon's on a channel: its bytes are not the socket's.
    static func transformsBytes(_ channel: any Channel) -> Bool {
        (try? channel.pipeline.syncOperations.handler(type: NIOSSLHandler.self)) != nil
    }

    /// Counts a read's bytes (before they are glued).
    func counted(_ bytes: Int, fromClient: Bool) {
        guard case .gluing = phase else { return }
        if fromClient { carried.up += bytes } else { carried.down += bytes }
        guard max(carried.up, carried.down) >= relay.threshold else { return }
        phase = .preparing
        guard let client, let upstream,
            let clientOptions = client as? any SocketOptionProvider, let upstreamOptions = upstream as? any SocketOptionProvider
        else { return abandon() }
        let option = SocketOptionName(SocketCookie.option)
        let level = SocketOptionLevel(SOL_SOCKET)
        let clientCookie: EventLoopFuture<UInt64> = clientOptions.unsafeGetSocketOption(level: level, name: option)
        let upstreamCookie: EventLoopFuture<UInt64> = upstreamOptions.unsafeGetSocketOption(level: level, name: option)
        clientCookie.and(upstreamCookie).assumeIsolated().whenComplete { [self] result in
            guard case .preparing = phase else { return }
            guard case .success(let cookies) = result else { return abandon() }
            phase = .ready(client: cookies.0, upstream: cookies.1)
        }
    }

    /// After a read's bytes were flushed (and when a channel can take more): moves the tunnel if
    /// it is ready and neither channel holds unwritten bytes.
    func moveIfQuiet() {
        guard case .ready(let clientCookie, let upstreamCookie) = phase, let client, let upstream else { return }
        guard let clientOptions = client.syncOptions, let upstreamOptions = upstream.syncOptions,
            let clientBuffered = try? clientOptions.getOption(ChannelOptions.bufferedWritableBytes),
            let upstreamBuffered = try? upstreamOptions.getOption(ChannelOptions.bufferedWritableBytes)
        else { return abandon() }
        guard clientBuffered == 0, upstreamBuffered == 0 else { return }
        guard relay.hasRoom else { return abandon() }
        guard let descriptors = SocketCookie.duplicates(of: [clientCookie, upstreamCookie]) else { return abandon() }
        guard let pipes = SpliceRelay.Pipes.make(size: relay.pipeSize) else {
            for fd in descriptors { close(fd) }
            return abandon()
        }
        let handover = SpliceRelay.Handover(client: descriptors[0], upstream: descriptors[1], pipes: pipes, record: record)
        phase = .moved
        (self.client, self.upstream) = (nil, nil)
        record?.handOver()
        client.close(promise: nil)
        upstream.close(promise: nil)
        if !relay.adopt(handover) {
            handover.discard()
            record?.finishHandedOver()
        }
    }

    /// The tunnel ends (an end of input, a close) or cannot move: it stays glued.
    func abandon() {
        if case .moved = phase { return }
        phase = .abandoned
        (client, upstream) = (nil, nil)
    }
}

@available(*, unavailable)
extension TunnelMover: Sendable {}
