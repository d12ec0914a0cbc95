import CordonPolicy
import FoundationEssentials
public import NIOCore
public import NIOPosix
import Synchronization

/// Serves a sandbox's control socket (unix, mode 0600, in the sandbox's state directory).
public final class ControlServer: Sendable {
    private let broker: ApprovalBroker
    private let eventLoops: @Sendable () -> any EventLoopGroup
    var group: any EventLoopGroup { eventLoops() }
    private let channel = Mutex<(any Channel)?>(nil)

    public init(broker: ApprovalBroker, group: @escaping @Sendable @autoclosure () -> any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.broker = broker
        self.eventLoops = group
    }

    /// Serves `descriptor`, a unix socket already bound and listening (the supervisor binds it
    /// at the sandbox's start; connections made before this wait in its backlog); the channel
    /// owns it from here.
    public func start(boundSocket descriptor: Int32) async throws {
        let broker = broker
        let bound = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(LineDecoder()), ControlHandler(broker: broker))
                }
            }
            .withBoundSocket(descriptor).get()
        channel.withLock { $0 = bound }
    }

    public func stop() async {
        let bound = channel.withLock { channel in
            defer { channel = nil }
            return channel
        }
        try? await bound?.close()
    }

    /// The answer to one request line: an unknown `op` is named back, anything else that is not
    /// a request is refused as such.
    static func handle(line: [UInt8], broker: ApprovalBroker) -> ControlMessage.Response {
        if let request = try? JSONDecoder().decode(ControlMessage.Request.self, from: Data(line)) {
            return handle(request, broker: broker)
        }
        if let op = try? JSONDecoder().decode(OpOnly.self, from: Data(line)).op {
            return .init(ok: false, error: "unknown op \(op)")
        }
        return .init(ok: false, error: "not a control request")
    }

    /// A line whose `op` is a string but not one of `ControlMessage.Op`.
    private struct OpOnly: Decodable {
        var op: String
    }

    public static func handle(_ request: ControlMessage.Request, broker: ApprovalBroker) -> ControlMessage.Response {
        switch request.op {
        case .approvals:
            return .init(ok: true, pending: broker.pending)
        case .answer:
            guard let text = request.answer, let answer = ControlMessage.answer(text) else {
                return .init(ok: false, error: "answer must be once, always or deny")
            }
            if let id = request.id {
                return broker.answer(id: id, answer) ? .init(ok: true, released: 1) : .init(ok: false, error: "request \(id) is no longer pending")
            }
            guard let raw = request.host, let host = Host(raw), let name = host.name ?? host.address?.description else {
                return .init(ok: false, error: "\(request.host ?? "") is not a host name")
            }
            return .init(ok: true, released: broker.answer(host: name, answer))
        }
    }
}
