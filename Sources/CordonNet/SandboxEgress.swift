public import CordonPolicy
public import CordonCore
public import CordonOS
public import NIOCore
public import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The host side of a sandbox's network: the egress proxy, the relay for transparently captured
/// flows, the DNS stub and the UDP sink, all serving listeners that live inside the sandbox's
/// network namespace (cordon-init made them there and handed them over). One policy, one log.
public final class SandboxEgress: Sendable {
    /// The listeners handed over by cordon-init (`CaptureChannel`), in the order it sends them.
    public typealias Listeners = CaptureListeners

    public let policy: EgressPolicy
    public let log: NetworkLog
    public let proxy: EgressProxy
    public let dns: DNSStub
    /// Held connections to unlisted hosts (with `prompt`) and answers given ahead of requests.
    public let approvals: ApprovalBroker
    /// The event loops, obtained at the first start: a sandbox that never uses the network never
    /// starts NIO's threads.
    private let eventLoops: @Sendable () -> any EventLoopGroup
    private var group: any EventLoopGroup { eventLoops() }
    private let sinkChannel = Mutex<(any Channel)?>(nil)
    private let originals = Mutex<[Int32]>([])
    private let stopping = Atomic<Bool>(false)
    private let restarts = Atomic<Int>(0)
    private let onEvent: @Sendable (String) -> Void
    private let sink: SinkHandler

    /// Loads the blocklists and builds the policy; throws a profile error when a field is wrong.
    public init(
        configuration: EgressConfiguration, sandbox: String, logPath: String?, blocklistCache: String? = nil, resolver: any Resolver = SystemResolver(),
        approvals: ApprovalBroker = ApprovalBroker(), group: @escaping @Sendable @autoclosure () -> any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        placeholders: [String] = [], interception: Interception? = nil, onEvent: @escaping @Sendable (String) -> Void = { _ in }
    ) throws(CordonError) {
        self.onEvent = onEvent
        let blocklist = configuration.blocklists.isEmpty ? nil : try Blocklist.load(paths: configuration.blocklists, cacheDirectory: blocklistCache)
        let policy = try EgressPolicy(configuration, blocklist: blocklist, placeholders: placeholders)
        let log = try NetworkLog(sandbox: sandbox, path: logPath)
        let names = HandedOutNames(standIns: true)
        self.policy = policy
        self.log = log
        self.eventLoops = group
        self.approvals = approvals
        self.sink = SinkHandler(log: log)
        self.dns = DNSStub(policy: policy, resolver: resolver, log: log, handedOut: names, servesIPv6: false, group: group())
        self.proxy = EgressProxy(
            policy: policy, log: log, resolver: resolver, nameLookup: names, approvals: approvals,
            options: .init(
                sandbox: sandbox,
                firstBytesTimeout: .nanoseconds(Int64(configuration.requestTimeout * 1e9)), maxConnections: configuration.maxConnections),
            interception: interception, group: group())
        // The parent proxy's CA file was read when the proxy's dialer was built: a bad one stops here.
        if case .failure(let error)? = proxy.dialer.parentTLS { throw error }
    }

    /// Starts serving every listener; on failure closes what it was given and throws.
    ///
    /// Each listener is served from a duplicate of its descriptor, and the original is kept: if a
    /// listener's channel closes while the sandbox runs (an error took it down), it is served
    /// again from a fresh duplicate and `onEvent` says so. Until then the sandbox's connections
    /// to it wait in the kernel's backlog or fail: there is never a way around the proxy.
    public func start(_ listeners: Listeners) async throws {
        let kept = listeners.all
        originals.withLock { $0 = kept }
        do {
            for kind in Kind.allCases { try await serve(kind) }
        } catch {
            await stop()
            throw error
        }
    }

    enum Kind: Int, CaseIterable {
        case relay, proxy, dns, sink
        var label: String { ["relay", "proxy", "dns", "sink"][rawValue] }
    }

    private func serve(_ kind: Kind) async throws {
        guard let original = originals.withLock({ $0.indices.contains(kind.rawValue) ? $0[kind.rawValue] : nil }) else { return }
        let descriptor: Int32
        do throws(SystemError) {
            descriptor = try FileDescriptor.duplicate(original, "the \(kind.label) listener").take()
        } catch {
            throw error.cordonError()
        }
        let channel: any Channel
        switch kind {
        case .relay: channel = try await proxy.startRelay(boundSocket: descriptor)
        case .proxy: channel = try await proxy.start(boundSocket: descriptor)
        case .dns: channel = try await dns.start(boundSocket: descriptor)
        case .sink:
            let counter = sink
            channel = try await DatagramBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(counter) }
                }
                .withBoundSocket(descriptor).get()
            sinkChannel.withLock { $0 = channel }
        }
        channel.closeFuture.whenComplete { [self] _ in
            guard !stopping.load(ordering: .acquiring) else { return }
            let attempt = restarts.wrappingAdd(1, ordering: .relaxed).newValue
            guard attempt <= Self.maximumRestarts else {
                onEvent("the \(kind.label) listener closed and was restarted \(Self.maximumRestarts) times; giving up: the sandbox has no \(kind.label)")
                return
            }
            onEvent("the \(kind.label) listener closed unexpectedly; restarted")
            Task { try? await self.serve(kind) }
        }
    }

    static let maximumRestarts = 20

    /// UDP datagrams (other than DNS) the sandbox tried to send.
    public var droppedDatagrams: Int { sink.dropped.load(ordering: .relaxed) }

    public func stop() async {
        stopping.store(true, ordering: .releasing)
        await proxy.stop()
        await dns.stop()
        log.stopBatching()
        let channel = sinkChannel.withLock { channel in
            defer { channel = nil }
            return channel
        }
        try? await channel?.close()
        for fd in originals.withLock({ fds in
            defer { fds = [] }; return fds
        }) { close(fd) }
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
        try blocking(on: group) { try await self.start(listeners) }
    }

    public func stopBlocking() {
        try? blocking(on: group) { await self.stop() }
    }
}

extension ControlServer {
    /// `start` for synchronous callers (see `SandboxEgress.startBlocking`).
    public func startBlocking(boundSocket descriptor: Int32) throws {
        try blocking(on: group) { try await self.start(boundSocket: descriptor) }
    }

    public func stopBlocking() {
        try? blocking(on: group) { await self.stop() }
    }
}

/// Runs async work to completion from a synchronous caller that is not an event loop thread.
func blocking<T: Sendable>(on group: any EventLoopGroup, _ body: @escaping @Sendable () async throws -> T) throws -> T {
    try group.any().makeFutureWithTask(body).wait()
}
