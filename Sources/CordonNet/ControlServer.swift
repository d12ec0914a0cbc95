import CordonPolicy
import CordonCore
import FoundationEssentials
public import NIOCore
public import NIOPosix
import Synchronization

/// The wire format of a sandbox's control socket (`<state>/sandboxes/NAME/control.sock`): one JSON
/// object per line each way. Commands such as `cordon approvals`, `cordon allow` and `cordon deny`
/// talk to the running supervisor through it; later commands (status, exec) extend `op`.
public enum ControlMessage {
    public struct Request: Codable, Sendable, Equatable {
        /// `approvals` (list pending requests) or `answer`.
        public var op: String
        public var host: String?
        public var id: Int?
        /// `once`, `always` or `deny`.
        public var answer: String?

        public init(op: String, host: String? = nil, id: Int? = nil, answer: String? = nil) {
            self.op = op
            self.host = host
            self.id = id
            self.answer = answer
        }
    }

    public struct Response: Codable, Sendable, Equatable {
        public var ok: Bool
        public var error: String?
        public var pending: [ApprovalBroker.Request]?
        /// Connections released by an answer.
        public var released: Int?

        public init(ok: Bool, error: String? = nil, pending: [ApprovalBroker.Request]? = nil, released: Int? = nil) {
            self.ok = ok
            self.error = error
            self.pending = pending
            self.released = released
        }
    }

    public static func answer(_ text: String) -> ApprovalAnswer? {
        switch text {
        case "once": .allowOnce
        case "always": .allowAlways
        case "deny": .deny
        default: nil
        }
    }
}

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

    public static func handle(_ request: ControlMessage.Request, broker: ApprovalBroker) -> ControlMessage.Response {
        switch request.op {
        case "approvals":
            return .init(ok: true, pending: broker.pending)
        case "answer":
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
        default:
            return .init(ok: false, error: "unknown op \(request.op)")
        }
    }
}

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

final class ControlHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let broker: ApprovalBroker

    init(broker: ApprovalBroker) { self.broker = broker }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = Array(unwrapInboundIn(data).readableBytesView)
        let response: ControlMessage.Response
        if let request = try? JSONDecoder().decode(ControlMessage.Request.self, from: Data(bytes)) {
            response = ControlServer.handle(request, broker: broker)
        } else {
            response = .init(ok: false, error: "not a control request")
        }
        var out = (try? JSONEncoder().encode(response)).map { [UInt8]($0) } ?? Array(#"{"ok":false}"#.utf8)
        out.append(UInt8(ascii: "\n"))
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: out)), promise: nil)
    }
}

@available(*, unavailable)
extension ControlHandler: Sendable {}
