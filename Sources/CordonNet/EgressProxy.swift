public import CordonPolicy
public import CordonCore
public import NIOCore
import NIOHTTP1
public import NIOPosix
import Synchronization

/// cordon's egress proxy: one listener serving HTTP/1.1 forward proxying, CONNECT and SOCKS5,
/// plus `handleTransparent` for flows captured with their original destination.
public final class EgressProxy: Sendable {
    public struct Options: Sendable {
        /// The sandbox's name, used in the allow hint (`cordon allow SANDBOX DOMAIN`).
        public var sandbox: String
        public var connectTimeout: TimeAmount
        public var idleTimeout: TimeAmount
        /// How long a held connection waits for an approval before it is refused.
        public var approvalTimeout: Duration
        /// How long a tunnel waits for the client's first bytes before treating the flow as opaque.
        public var sniffTimeout: TimeAmount
        /// Bytes a tunnel carries one way before it moves to the splice relay; nil keeps every
        /// tunnel in NIO.
        public var spliceThreshold: Int?
        /// How long a read that waits for the agent may take: a request head (each one on a kept-alive
        /// connection), a SOCKS greeting and request, a tunnel's ClientHello or first request head.
        public var firstBytesTimeout: TimeAmount
        /// Client connections open at once (proxy listener and captured flows together); one more is
        /// closed at accept, logged and counted.
        public var maxConnections: Int

        public static let defaultFirstBytesTimeout = TimeAmount.seconds(10)
        public static let defaultMaxConnections = 512

        public init(
            sandbox: String = "SANDBOX", connectTimeout: TimeAmount = .seconds(10), idleTimeout: TimeAmount = .seconds(300),
            approvalTimeout: Duration = .seconds(60), sniffTimeout: TimeAmount = .seconds(3), spliceThreshold: Int? = 256 * 1024,
            firstBytesTimeout: TimeAmount = Options.defaultFirstBytesTimeout, maxConnections: Int = Options.defaultMaxConnections
        ) {
            self.firstBytesTimeout = firstBytesTimeout
            self.maxConnections = maxConnections > 0 ? maxConnections : Options.defaultMaxConnections
            self.sandbox = sandbox
            self.connectTimeout = connectTimeout
            self.idleTimeout = idleTimeout
            self.approvalTimeout = approvalTimeout
            self.sniffTimeout = sniffTimeout
            self.spliceThreshold = spliceThreshold
        }
    }

    public let policy: EgressPolicy
    public let log: NetworkLog
    public let options: Options
    /// The hosts whose TLS is terminated here, and the secrets injected for them; nil: none.
    public let interception: Interception?
    let dialer: Dialer
    let nameLookup: (any NameLookup)?
    let approvals: (any ApprovalProvider)?
    let approvalMemory = ApprovalMemory()
    let rateLimiter: RateLimiter
    /// Carries tunnels that moved out of NIO (see `TunnelMover`).
    let tunnelRelay: SpliceRelay?
    /// The event loops, obtained at the first start (NIO's shared group is created then).
    private let eventLoops: @Sendable () -> any EventLoopGroup
    private var group: any EventLoopGroup { eventLoops() }
    private let listeners = Mutex<[any Channel]>([])
    /// Client connections open now, listener and captured flows together (`Options.maxConnections`).
    private let openConnections = Atomic<Int>(0)

    /// The number of client connections open now.
    public var connectionCount: Int { openConnections.load(ordering: .relaxed) }

    /// Counts `channel` as open until it closes, or (with `maxConnections` open already) logs and
    /// counts the refusal and returns false: the caller closes it. Every held connection costs the
    /// supervisor memory the sandbox's own limit does not count; the cap bounds it.
    func admitConnection(_ channel: any Channel) -> Bool {
        let limit = options.maxConnections
        let count = openConnections.wrappingAdd(1, ordering: .relaxed).newValue
        guard count <= limit else {
            openConnections.wrappingSubtract(1, ordering: .relaxed)
            log.refusedAtConnectionLimit(client: channel.remoteAddress.map(EgressProxy.describe) ?? "?", limit: limit)
            return false
        }
        channel.closeFuture.whenComplete { [self] _ in openConnections.wrappingSubtract(1, ordering: .relaxed) }
        return true
    }

    public init(
        policy: EgressPolicy, log: NetworkLog, resolver: any Resolver = SystemResolver(), nameLookup: (any NameLookup)? = nil,
        approvals: (any ApprovalProvider)? = nil, options: Options = Options(), interception: Interception? = nil,
        group: @escaping @Sendable @autoclosure () -> any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        now: @escaping @Sendable () -> Double = { WallClock.monotonic() }
    ) {
        self.policy = policy
        self.log = log
        self.options = options
        self.interception = interception
        self.dialer = Dialer(policy: policy, resolver: resolver, connectTimeout: options.connectTimeout)
        self.nameLookup = nameLookup
        self.approvals = approvals
        self.rateLimiter = RateLimiter(now: now)
        self.tunnelRelay = options.spliceThreshold.map {
            SpliceRelay(threshold: $0, idleTimeout: Double(options.idleTimeout.nanoseconds) / 1e9)
        }
        self.eventLoops = group
    }

    /// Listens on `host:port` (port 0 picks one) and returns the bound address.
    public func start(host: String = "127.0.0.1", port: Int = 0) async throws -> SocketAddress {
        let channel = try await proxyBootstrap().bind(host: host, port: port).get()
        listeners.withLock { $0.append(channel) }
        guard let address = channel.localAddress else { throw CordonError(.internal, "proxy listener has no address") }
        return address
    }

    /// Serves HTTP/CONNECT/SOCKS5 on a listening socket made elsewhere (inside the sandbox's
    /// network namespace, handed over by cordon-init).
    @discardableResult
    public func start(boundSocket descriptor: Int32) async throws -> any Channel {
        let channel = try await proxyBootstrap().withBoundSocket(descriptor).get()
        listeners.withLock { $0.append(channel) }
        return channel
    }

    /// Serves flows redirected by the sandbox's nftables rules: each accepted connection's
    /// original destination (SO_ORIGINAL_DST) goes to `handleTransparent`. A connection without
    /// one (something dialled the relay port directly) is closed.
    @discardableResult
    public func startRelay(boundSocket descriptor: Int32) async throws -> any Channel {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 4096)
            .childChannelInitializer { [self] channel in
                guard let provider = channel as? any SocketOptionProvider, (try? EgressProxy.configure(channel)) != nil else {
                    return channel.close()
                }
                // SOL_IP, SO_ORIGINAL_DST (linux/netfilter_ipv4.h).
                // The value is a sockaddr_in (16 bytes), read as raw bytes: port at 2, address at 4.
                let original: EventLoopFuture<SockaddrIn> = provider.unsafeGetSocketOption(level: 0, name: 80)
                return original.flatMap { address in
                    let bytes = withUnsafeBytes(of: address) { Array($0) }
                    let port = Int(bytes[2]) << 8 | Int(bytes[3])
                    guard let ip = IPAddress(bytes: Array(bytes[4..<8])) else { return channel.close() }
                    return self.handleTransparent(channel: channel, originalDestination: ip, port: port)
                }.flatMapError { _ in
                    let record = FlowRecord(client: channel.remoteAddress.map(EgressProxy.describe) ?? "?", log: self.log)
                    record.target(method: "tcp", host: channel.localAddress.map(EgressProxy.describe) ?? "relay", port: 0)
                    record.decided(
                        Decision(
                            verdict: .deny, host: "relay", port: 0, rule: "no-destination", reason: "connection to the relay without a captured destination"))
                    record.finish()
                    return channel.close()
                }
            }
            .withBoundSocket(descriptor).get()
        listeners.withLock { $0.append(channel) }
        return channel
    }

    /// Reads grow to 256 KiB on a bulk transfer (a quarter of the read and write calls of NIO's
    /// 64 KiB default) and start at 2 KiB, so idle connections stay small.
    static let readAllocator = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 256 * 1024)

    /// Per-connection options, set synchronously in the initializer: bootstrap options are applied
    /// one future at a time, which was a visible share of the per-connection cost. TCP_NODELAY is
    /// not among them: NIO's bootstraps set it on every connection they dial and on their
    /// listeners, whose accepted connections inherit it on Linux (each setting costs NIO a
    /// getsockname and a setsockopt).
    static func configure(_ channel: any Channel, autoRead: Bool? = nil, halfClosure: Bool? = nil) throws {
        guard let options = channel.syncOptions else { throw ChannelError.operationUnsupported }
        try options.setOption(ChannelOptions.recvAllocator, value: EgressProxy.readAllocator)
        if let autoRead { try options.setOption(ChannelOptions.autoRead, value: autoRead) }
        if let halfClosure { try options.setOption(ChannelOptions.allowRemoteHalfClosure, value: halfClosure) }
    }

    private func proxyBootstrap() -> ServerBootstrap {
        let idle = options.idleTimeout
        return ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 4096)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                guard admitConnection(channel) else { return channel.close() }
                return channel.eventLoop.makeCompletedFuture {
                    try EgressProxy.configure(channel)
                    let record = FlowRecord(client: channel.remoteAddress.map(EgressProxy.describe) ?? "?", log: log)
                    channel.closeFuture.whenComplete { _ in record.finish() }
                    try channel.pipeline.syncOperations.addHandlers(
                        IdleCloseHandler(timeout: idle), ProtocolSniffer(proxy: self, record: record))
                }
            }
    }

    public func stop() async {
        let channels = listeners.withLock { channels in
            defer { channels = [] }
            return channels
        }
        for channel in channels { try? await channel.close() }
        tunnelRelay?.stop()
    }

    /// Serves a captured flow whose original destination is `destination`. The name comes from the
    /// TLS SNI or HTTP Host in the first bytes and must be one the DNS stub handed this address out
    /// for; opaque protocols take the stub's name for the address. Call on the channel's loop or
    /// not: the pipeline change is submitted to it.
    public func handleTransparent(channel: any Channel, originalDestination destination: IPAddress, port: Int) -> EventLoopFuture<Void> {
        let idle = options.idleTimeout
        guard admitConnection(channel) else { return channel.close() }
        return channel.eventLoop.submit { [self] in
            let record = FlowRecord(client: channel.remoteAddress.map(EgressProxy.describe) ?? "relay", log: log)
            channel.closeFuture.whenComplete { _ in record.finish() }
            record.target(method: "tcp", host: destination.description, port: port)
            try channel.pipeline.syncOperations.addHandlers(
                IdleCloseHandler(timeout: idle),
                TransparentHandler(proxy: self, record: record, destination: destination, port: port))
        }
    }

    static func describe(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress else { return "\(address)" }
        return address.protocol == .inet6 ? "[\(ip)]:\(address.port ?? 0)" : "\(ip):\(address.port ?? 0)"
    }

    // MARK: Admission and dialling, shared by every front end

    enum Opened: Sendable {
        case refused(Decision)
        case failed(Decision, DialError)
        case connected(Decision, any Channel, IPAddress)
    }

    /// Policy, then rate limit, then (for unlisted hosts with `prompt`) an approval.
    func admit(host: String, port: Int) async -> Decision {
        if let decided = admitNow(host: host, port: port) { return decided }
        return limited(await ask(policy.decide(host: host, port: port)), port: port)
    }

    /// The decision when no one has to be asked (nil when an approval is needed): synchronous, so
    /// the common case never leaves the connection's event loop.
    func admitNow(host: String, port: Int) -> Decision? {
        var decision = policy.decide(host: host, port: port)
        if decision.verdict == .ask { return nil }
        if decision.verdict == .deny, decision.rule == "not-listed", let given = approvals?.preApproved(host: decision.host, port: port) {
            decision = answered(given, decision)
        }
        return limited(decision, port: port)
    }

    private func limited(_ decision: Decision, port: Int) -> Decision {
        // A name under a wildcard is resolved upstream by the proxy too: the same bound as DNS.
        let decision = policy.bounded(decision)
        guard decision.isAllowed, !policy.rateLimits.isEmpty, let normalised = Host(decision.host), let limit = policy.rateLimit(for: normalised) else {
            return decision
        }
        if !rateLimiter.take(limit.pattern.description, perMinute: limit.perMinute) {
            return Decision(
                verdict: .deny, host: decision.host, port: port, rule: "rate-limit:\(limit.pattern)",
                reason: "more than \(limit.perMinute) requests per minute to \(limit.pattern)")
        }
        return decision
    }

    private func answered(_ answer: ApprovalAnswer, _ decision: Decision) -> Decision {
        var result = decision
        switch answer {
        case .allowOnce: (result.verdict, result.rule, result.reason) = (.allow, "approval:once", "approved for this run")
        case .allowAlways: (result.verdict, result.rule, result.reason) = (.allow, "approval:always", "approved always")
        case .deny: (result.verdict, result.rule, result.reason) = (.deny, "approval:deny", "refused by the user")
        }
        return result
    }

    private func ask(_ decision: Decision) async -> Decision {
        func answered(_ answer: ApprovalAnswer) -> Decision { self.answered(answer, decision) }
        if let known = approvalMemory.answer(host: decision.host, port: decision.port) { return answered(known) }
        guard let approvals else {
            return Decision(
                verdict: .deny, host: decision.host, port: decision.port, rule: "not-listed",
                reason: "\(decision.host) is not in egress.domains and no one can be asked")
        }
        log.countApproval()
        let host = decision.host
        let port = decision.port
        let timeout = options.approvalTimeout
        let answer = await withTaskGroup(of: ApprovalAnswer?.self) { group in
            group.addTask { await approvals.decide(host: host, port: port) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        guard let answer else {
            return Decision(verdict: .deny, host: host, port: port, rule: "approval:timeout", reason: "no answer to the approval request in time")
        }
        if answer != .deny { approvalMemory.remember(answer, host: host, port: port) }
        return answered(answer)
    }

    /// Admits and dials; the channel comes back on `eventLoop` with autoRead off.
    func open(host: String, port: Int, fixedAddress: IPAddress? = nil, on eventLoop: any EventLoop) async -> Opened {
        let decision = await admit(host: host, port: port)
        guard decision.isAllowed, let target = Host(decision.host) else { return .refused(decision) }
        do {
            let (channel, address) = try await dialer.dial(host: target, port: port, fixedAddress: fixedAddress, on: eventLoop)
            return .connected(decision, channel, address)
        } catch {
            return opened(decision, failure: error, port: port)
        }
    }

    private func opened(_ decision: Decision, failure error: DialError, port: Int) -> Opened {
        if case .addressRefused(let address, let reason) = error {
            return .refused(
                Decision(
                    verdict: .deny, host: decision.host, port: port, rule: "address",
                    reason: "\(decision.host) resolves to \(address), which is \(reason) (egress.allow_private lists the CIDRs that may be reached)"))
        }
        return .failed(decision, error)
    }

    /// Runs `open` and delivers the result on `eventLoop`, where handlers may use it directly.
    /// When nothing needs an approval or a DNS lookup (a transparent flow's fixed address, a
    /// pinned name, a parent proxy named by address, a refusal) it all happens on the loop: no
    /// hop to the concurrency pool.
    func open(host: String, port: Int, fixedAddress: IPAddress? = nil, on eventLoop: any EventLoop, then: @escaping (Opened) -> Void) {
        if let fast = openOnLoop(host: host, port: port, fixedAddress: fixedAddress, on: eventLoop) {
            fast.assumeIsolated().whenSuccess(then)
            return
        }
        let promise = eventLoop.makePromise(of: Opened.self)
        promise.completeWithTask { [self] in await open(host: host, port: port, fixedAddress: fixedAddress, on: eventLoop) }
        promise.futureResult.assumeIsolated().whenSuccess(then)
    }

    private func openOnLoop(host: String, port: Int, fixedAddress: IPAddress?, on eventLoop: any EventLoop) -> EventLoopFuture<Opened>? {
        guard let decision = admitNow(host: host, port: port) else { return nil }
        guard decision.isAllowed, let target = Host(decision.host) else { return eventLoop.makeSucceededFuture(.refused(decision)) }
        if let parent = dialer.parentProxy(for: target) {
            guard let address = dialer.knownAddress(of: parent) else { return nil }
            return dialer.connect(throughParent: parent, at: address, host: target, port: port, on: eventLoop)
                .map { channel in Opened.connected(decision, channel, address) }
                .recover { error in self.opened(decision, failure: error as? DialError ?? .connectFailed("\(error)"), port: port) }
        }
        guard let addresses = dialer.knownAddresses(for: target, fixedAddress: fixedAddress) else { return nil }
        let candidates: [IPAddress]
        do { candidates = try dialer.checked(addresses) } catch { return eventLoop.makeSucceededFuture(opened(decision, failure: error, port: port)) }
        return dialer.connect(candidates, port: port, on: eventLoop)
            .map { channel, address in Opened.connected(decision, channel, address) }
            .recover { error in self.opened(decision, failure: error as? DialError ?? .connectFailed("\(error)"), port: port) }
    }

    // MARK: Refusals

    /// A complete HTTP refusal: 403 (429 for rate limits) with a one-line body and the
    /// `X-Cordon-Denied` header. `explained`: the client talks to the proxy (CONNECT, a forward
    /// request), whose status line is often all its tools show: the reason phrase carries the
    /// reason and the fix (`403 Forbidden (cordon: … ; fix: …)`, see `RefusalText`).
    func refusalResponse(_ decision: Decision, status: HTTPResponseStatus? = nil, explained: Bool = false) -> String {
        let status = status ?? (decision.rule.hasPrefix("rate-limit") ? .tooManyRequests : .forbidden)
        let sandbox = options.sandbox
        let body = decision.refusalBody(sandbox: sandbox) + "\n"
        let phrase = explained ? decision.statusReason(status.reasonPhrase, sandbox: sandbox) : status.reasonPhrase
        return "HTTP/1.1 \(status.code) \(phrase)\r\n"
            + "Content-Type: text/plain; charset=utf-8\r\n"
            + "X-Cordon-Denied: \(decision.safeDeniedHeader(sandbox: sandbox))\r\n"
            + "Content-Length: \(body.utf8.count)\r\n"
            + "Connection: close\r\n\r\n" + body
    }

    /// A complete JSON answer that ends the connection (a usage budget's 429).
    static func jsonResponse(_ status: HTTPResponseStatus, _ body: String) -> String {
        "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
    }

    static func plainResponse(_ status: HTTPResponseStatus, _ message: String) -> String {
        let body = "cordon: \(message)\n"
        return "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\nContent-Type: text/plain; charset=utf-8\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
    }
}

/// Storage the size of a `sockaddr_in`, for SO_ORIGINAL_DST.
struct SockaddrIn: Sendable {
    var storage: (UInt64, UInt64) = (0, 0)
}

/// `10 s`, `250 ms`: a timeout as the network log and the answers name it.
func describeTimeout(_ time: TimeAmount) -> String {
    let milliseconds = time.nanoseconds / 1_000_000
    return milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(milliseconds) ms"
}
