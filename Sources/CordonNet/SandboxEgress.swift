public import CordonCore
public import NIOCore
public import NIOPosix
import Synchronization

/// The host side of a sandbox's network: the egress proxy, the relay for transparently captured
/// flows, the DNS stub and the UDP sink, all serving listeners that live inside the sandbox's
/// network namespace (cordon-init made them there and handed them over). One policy, one log.
public final class SandboxEgress: Sendable {
    /// The listeners handed over by cordon-init, in the order it sends them.
    public struct Listeners: Sendable {
        public var relay: Int32
        public var proxy: Int32
        public var dns: Int32
        public var sink: Int32

        public init(relay: Int32, proxy: Int32, dns: Int32, sink: Int32) {
            self.relay = relay
            self.proxy = proxy
            self.dns = dns
            self.sink = sink
        }

        public init?(_ descriptors: [Int32]) {
            guard descriptors.count == 4 else { return nil }
            self.init(relay: descriptors[0], proxy: descriptors[1], dns: descriptors[2], sink: descriptors[3])
        }
    }

    public let policy: EgressPolicy
    public let log: NetworkLog
    public let proxy: EgressProxy
    public let dns: DNSStub
    /// Held connections to unlisted hosts (with `prompt`) and answers given ahead of requests.
    public let approvals: ApprovalBroker
    private let group: any EventLoopGroup
    private let sinkChannel = Mutex<(any Channel)?>(nil)
    private let sink: SinkHandler

    /// Loads the blocklists and builds the policy; throws a profile error when a field is wrong.
    public init(
        configuration: EgressConfiguration, sandbox: String, logPath: String?, blocklistCache: String? = nil, resolver: any Resolver = SystemResolver(),
        approvals: ApprovalBroker = ApprovalBroker(), group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) throws(CordonError) {
        let blocklist = configuration.blocklists.isEmpty ? nil : try Blocklist.load(paths: configuration.blocklists, cacheDirectory: blocklistCache)
        let policy = try EgressPolicy(configuration, blocklist: blocklist)
        let log = try NetworkLog(sandbox: sandbox, path: logPath)
        let names = HandedOutNames(standIns: true)
        self.policy = policy
        self.log = log
        self.group = group
        self.approvals = approvals
        self.sink = SinkHandler(log: log)
        self.dns = DNSStub(policy: policy, resolver: resolver, log: log, handedOut: names, servesIPv6: false, group: group)
        self.proxy = EgressProxy(
            policy: policy, log: log, resolver: resolver, nameLookup: names, approvals: approvals,
            options: .init(sandbox: sandbox), group: group)
    }

    /// Starts serving every listener; on failure closes what it was given and throws.
    public func start(_ listeners: Listeners) async throws {
        do {
            try await proxy.startRelay(boundSocket: listeners.relay)
            try await proxy.start(boundSocket: listeners.proxy)
            try await dns.start(boundSocket: listeners.dns)
            let counter = sink
            let channel = try await DatagramBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(counter) }
                }
                .withBoundSocket(listeners.sink).get()
            sinkChannel.withLock { $0 = channel }
        } catch {
            await stop()
            throw error
        }
    }

    /// UDP datagrams (other than DNS) the sandbox tried to send.
    public var droppedDatagrams: Int { sink.dropped.load(ordering: .relaxed) }

    public func stop() async {
        await proxy.stop()
        await dns.stop()
        let channel = sinkChannel.withLock { channel in
            defer { channel = nil }
            return channel
        }
        try? await channel?.close()
    }
}

/// Counts and drops UDP that is not DNS; the first datagram from each client port is logged.
final class SinkHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let log: NetworkLog
    let dropped = Atomic<Int>(0)
    private let seen = Mutex<Set<String>>([])

    init(log: NetworkLog) {
        self.log = log
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        dropped.add(1, ordering: .relaxed)
        let client = EgressProxy.describe(envelope.remoteAddress)
        guard seen.withLock({ $0.count < 1024 && $0.insert(client).inserted }) else { return }
        log.record(
            NetworkLogEntry(
                client: client, method: "udp", host: "udp", port: 0, decision: "deny", rule: "udp",
                reason: "UDP other than DNS does not leave the sandbox", bytesUp: envelope.data.readableBytes))
    }
}

extension SandboxEgress {
    /// `start` for synchronous callers (the supervisor's main thread, never an event loop or
    /// the cooperative pool): blocks until every listener serves or one failed.
    public func startBlocking(_ listeners: Listeners) throws {
        try group.any().makeFutureWithTask { try await self.start(listeners) }.wait()
    }

    public func stopBlocking() {
        try? group.any().makeFutureWithTask { await self.stop() }.wait()
    }
}

extension ControlServer {
    /// `start` for synchronous callers (see `SandboxEgress.startBlocking`).
    public func startBlocking() throws {
        try MultiThreadedEventLoopGroup.singleton.any().makeFutureWithTask { try await self.start() }.wait()
    }

    public func stopBlocking() {
        try? MultiThreadedEventLoopGroup.singleton.any().makeFutureWithTask { await self.stop() }.wait()
    }
}
