public import CordonPolicy
public import NIOCore
public import NIOPosix
import CordonCore
import Synchronization

/// The sandbox's resolver (UDP): A/AAAA for names the policy allows, with addresses resolved on
/// the host side and checked like the proxy checks them; NXDOMAIN for the rest; REFUSED for
/// record types that carry data (TXT and others: no DNS tunnelling); NOTIMP for other opcodes.
public final class DNSStub: Sendable {
    public let policy: EgressPolicy
    public let handedOut: HandedOutNames
    private let resolver: any Resolver
    private let log: NetworkLog
    private let ttl: UInt32
    /// Answer AAAA queries; off inside a sandbox whose IPv6 is closed (clients then use A at once).
    private let servesIPv6: Bool
    /// The event loops, obtained at the first start (NIO's shared group is created then).
    private let eventLoops: @Sendable () -> any EventLoopGroup
    private var group: any EventLoopGroup { eventLoops() }
    private let channel = Mutex<(any Channel)?>(nil)
    /// Lookups waiting for the host's resolver. Each holds a task and a queued job: a sandbox that
    /// floods queries for names that resolve slowly must not grow the supervisor without bound.
    private let lookupsInFlight = Atomic<Int>(0)
    /// When the last line about queries answered SERVFAIL at `maxLookupsInFlight` was written.
    private let busyLines = Mutex(LineThrottle())
    static let maxLookupsInFlight = 256

    public init(
        policy: EgressPolicy, resolver: any Resolver = SystemResolver(), log: NetworkLog, handedOut: HandedOutNames = HandedOutNames(),
        ttl: UInt32 = 60, servesIPv6: Bool = true, group: @escaping @Sendable @autoclosure () -> any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.servesIPv6 = servesIPv6
        self.policy = policy
        self.resolver = resolver
        self.log = log
        self.handedOut = handedOut
        self.ttl = ttl
        self.eventLoops = group
    }

    public func start(host: String = "127.0.0.1", port: Int = 0) async throws -> SocketAddress? {
        let stub = self
        let bound = try await DatagramBootstrap(group: group)
            .channelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(DNSStubHandler(stub: stub)) }
            }
            .bind(host: host, port: port).get()
        channel.withLock { $0 = bound }
        return bound.localAddress
    }

    /// Serves on a UDP socket bound elsewhere (inside the sandbox's network namespace).
    @discardableResult
    public func start(boundSocket descriptor: Int32) async throws -> any Channel {
        let stub = self
        let bound = try await DatagramBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(DNSStubHandler(stub: stub)) }
            }
            .withBoundSocket(descriptor).get()
        channel.withLock { $0 = bound }
        return bound
    }

    public func stop() async {
        let bound = channel.withLock { channel in
            defer { channel = nil }
            return channel
        }
        try? await bound?.close()
    }

    /// Answers one query message (pure apart from resolving and logging); nil means drop it.
    public func answer(_ bytes: [UInt8], client: String) async -> [UInt8]? {
        switch answerNow(bytes, client: client) {
        case .ready(let reply): return reply
        case .needsLookup(let lookup): return await answer(lookup)
        }
    }

    /// What the stub can say without waiting: every refusal, every record type it does not serve,
    /// and A/AAAA for literals and pinned names. Anything else needs a lookup on the host.
    enum Immediate {
        case ready([UInt8]?)
        case needsLookup(Lookup)
    }

    /// A query that waits for the host's resolver.
    struct Lookup: Sendable {
        fileprivate let query: DNSMessage
        fileprivate let host: Host
        fileprivate let type: DNSMessage.RecordType
        fileprivate let decision: Decision
        fileprivate let client: String
    }

    /// The synchronous part of `answer`: on the socket's event loop, no hop to the concurrency pool.
    func answerNow(_ bytes: [UInt8], client: String) -> Immediate {
        let query: DNSMessage
        do {
            query = try DNSMessage.parse(bytes)
        } catch {
            guard case .malformed(let id) = error else { return .ready(nil) }
            return .ready(DNSMessage(id: id, flags: 0x8000 | UInt16(DNSMessage.ResponseCode.formatError.rawValue), questions: []).encoded())
        }
        guard !query.isResponse else { return .ready(nil) }
        guard query.opcode == 0 else { return .ready(DNSMessage.response(to: query, code: .notImplemented).encoded()) }
        guard query.questions.count == 1, let question = query.questions.first else {
            return .ready(DNSMessage.response(to: query, code: .formatError).encoded())
        }
        func logged(_ decision: String, _ rule: String, _ reason: String) {
            self.logged(question, client: client, decision, rule, reason)
        }
        let decision = policy.bounded(policy.decideName(question.name))
        guard decision.verdict != .deny else {
            logged("deny", decision.rule, decision.reason)
            return .ready(DNSMessage.response(to: query, code: .nameError).encoded())
        }
        let type = DNSMessage.RecordType(rawValue: question.type)
        guard let type, type == .a || type == .aaaa else {
            // HTTPS/SVCB get an empty answer so clients fall back to A/AAAA; the rest are refused.
            if type == .https || type == .svcb {
                logged("allow", decision.rule, "no \(type == .https ? "HTTPS" : "SVCB") records are served")
                return .ready(DNSMessage.response(to: query, code: .noError).encoded())
            }
            logged("deny", "dns-type", "record type \(question.type) is not served (only A and AAAA)")
            return .ready(DNSMessage.response(to: query, code: .refused).encoded())
        }
        guard let host = Host(question.name) else {
            logged("deny", "invalid-host", "not a valid name")
            return .ready(DNSMessage.response(to: query, code: .nameError).encoded())
        }
        if type == .aaaa, !servesIPv6 {
            logged("allow", decision.rule, "IPv6 is closed in this sandbox: no AAAA records")
            return .ready(DNSMessage.response(to: query, code: .noError).encoded())
        }
        let lookup = Lookup(query: query, host: host, type: type, decision: decision, client: client)
        switch host {
        case .address(let address): return .ready(reply(lookup, found: .success([address])))
        case .name(let name):
            if let pinned = policy.pins[name] { return .ready(reply(lookup, found: .success(pinned))) }
            return .needsLookup(lookup)
        }
    }

    /// The asynchronous part of `answer`: the host's resolver, then the same checks. With
    /// `maxLookupsInFlight` lookups waiting already, SERVFAIL at once (clients retry), a line at
    /// most once a second.
    func answer(_ lookup: Lookup) async -> [UInt8] {
        guard lookupsInFlight.wrappingAdd(1, ordering: .relaxed).newValue <= Self.maxLookupsInFlight else {
            lookupsInFlight.wrappingSubtract(1, ordering: .relaxed)
            tooBusy(lookup)
            return DNSMessage.response(to: lookup.query, code: .serverFailure).encoded()
        }
        defer { lookupsInFlight.wrappingSubtract(1, ordering: .relaxed) }
        do {
            return reply(lookup, found: .success(try await dialer.addresses(for: lookup.host)))
        } catch {
            return reply(lookup, found: .failure(error))
        }
    }

    /// The answer for `lookup` given what the name resolved to: only addresses the address
    /// policy allows are handed out.
    private func reply(_ lookup: Lookup, found: Result<[IPAddress], DialError>) -> [UInt8] {
        let question = lookup.query.questions[0]
        let addresses: [IPAddress]
        do {
            addresses = try dialer.checked(try found.get()).filter { $0.isIPv6 == (lookup.type == .aaaa) }
        } catch {
            if case .addressRefused = error {
                logged(question, client: lookup.client, "deny", "address", error.description)
                return DNSMessage.response(to: lookup.query, code: .noError).encoded()
            }
            logged(question, client: lookup.client, "error", lookup.decision.rule, error.description)
            return DNSMessage.response(to: lookup.query, code: .serverFailure).encoded()
        }
        let handed = handedOut.record(lookup.host.description, addresses)
        logged(question, client: lookup.client, "allow", lookup.decision.rule, lookup.decision.reason, addresses)
        return DNSMessage.response(to: lookup.query, code: .noError, answers: handed.map { ($0, ttl) }).encoded()
    }

    private func tooBusy(_ lookup: Lookup, now: Double = WallClock.monotonic()) {
        guard let more = busyLines.withLock({ $0.admit(now: now) }) else { return }
        var reason = "\(Self.maxLookupsInFlight) lookups already wait for the host's resolver; answered SERVFAIL"
        if more > 0 { reason += "; \(more) more since the previous line" }
        logged(lookup.query.questions[0], client: lookup.client, "deny", "dns-busy", reason)
    }

    /// Pins, the resolver and the address policy, as the proxy applies them.
    /// (Resolving only: the stub never connects through a parent proxy, so no TLS set-up.)
    private var dialer: Dialer { Dialer(policy: policy, resolver: resolver, connectTimeout: .seconds(10), parentTLS: nil) }

    private func logged(_ question: DNSMessage.Question, client: String, _ decision: String, _ rule: String, _ reason: String, _ addresses: [IPAddress] = []) {
        log.record(
            NetworkLogEntry(
                client: client, method: "dns", host: question.name, port: Int(question.type),
                resolvedAddress: addresses.isEmpty ? nil : addresses.map(\.description).joined(separator: ","),
                decision: decision, rule: rule, reason: reason))
    }
}
