import CordonCore
public import CordonPolicy
public import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
    import Glibc
#endif

/// Resolves (pins first), checks every address with the address policy, and connects to a checked
/// address only — never `connect(host:port:)`, which would resolve again behind the policy's back.
public struct Dialer: Sendable {
    public var policy: EgressPolicy
    public var resolver: any Resolver
    public var connectTimeout: TimeAmount
    /// The TLS client context for an `https://` parent proxy (nil without one): the CA file is
    /// read here, when the dialer is built, not by the pure policy. A failure is kept and reported
    /// by `SandboxEgress` before the sandbox starts, and by any connection through the parent.
    let parentTLS: Result<NIOSSLContext, CordonError>?

    public init(policy: EgressPolicy, resolver: any Resolver, connectTimeout: TimeAmount = .seconds(10)) {
        self.init(policy: policy, resolver: resolver, connectTimeout: connectTimeout, parentTLS: ParentProxyTLS.setUp(for: policy.parentProxy))
    }

    init(policy: EgressPolicy, resolver: any Resolver, connectTimeout: TimeAmount, parentTLS: Result<NIOSSLContext, CordonError>?) {
        self.policy = policy
        self.resolver = resolver
        self.connectTimeout = connectTimeout
        self.parentTLS = parentTLS
    }

    /// The addresses for `host`: pins, then the resolver. Addresses pass through untouched.
    public func addresses(for host: Host) async throws(DialError) -> [IPAddress] {
        switch host {
        case .address(let address): return [address]
        case .name(let name):
            if let pinned = policy.pins[name] { return pinned }
            do {
                let found = try await resolver.resolve(name)
                guard !found.isEmpty else { throw DialError.resolutionFailed("\(name) has no A or AAAA records") }
                return found
            } catch let error as DialError {
                throw error
            } catch {
                throw DialError.resolutionFailed("\(error)")
            }
        }
    }

    /// Only the addresses the policy allows, or the refusal of the first one.
    public func checked(_ addresses: [IPAddress]) throws(DialError) -> [IPAddress] {
        var firstRefusal: DialError?
        var allowed: [IPAddress] = []
        for address in addresses {
            switch policy.addressPolicy.check(address) {
            case .allowed: allowed.append(address)
            case .refused(let reason): firstRefusal = firstRefusal ?? .addressRefused(address: address, reason: reason)
            }
        }
        if allowed.isEmpty, let firstRefusal { throw firstRefusal }
        return allowed
    }

    /// Opens the upstream connection for an allowed flow, on `eventLoop` (the client's loop, so
    /// the glue runs without hops). `fixedAddress` is a transparent flow's original destination.
    /// A flow the parent proxy covers goes through it by name, transparent or not (the
    /// organisation's proxy resolves, as it does for CONNECT). The returned channel has autoRead
    /// off until the caller glues it.
    public func dial(host: Host, port: Int, fixedAddress: IPAddress? = nil, on eventLoop: any EventLoop) async throws(DialError) -> (
        channel: any Channel, address: IPAddress
    ) {
        if let parent = parentProxy(for: host) {
            return try await dialThroughParent(parent, host: host, port: port, on: eventLoop)
        }
        let resolved: [IPAddress]
        if let fixedAddress { resolved = [fixedAddress] } else { resolved = try await addresses(for: host) }
        let candidates = try checked(resolved)
        var lastError = DialError.connectFailed("no address")
        for address in candidates {
            do {
                return (try await connect(address, port: port, on: eventLoop), address)
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    /// Addresses known without a lookup (a fixed address, a literal, a pin), unless the flow goes
    /// through the parent proxy; nil when a DNS lookup is needed.
    func knownAddresses(for host: Host, fixedAddress: IPAddress?) -> [IPAddress]? {
        if parentProxy(for: host) != nil { return nil }
        if let fixedAddress { return [fixedAddress] }
        switch host {
        case .address(let address): return [address]
        case .name(let name): return policy.pins[name]
        }
    }

    /// The parent proxy a flow to `host` goes through (none for hosts in its no-proxy list).
    func parentProxy(for host: Host) -> ParentProxyAddress? {
        guard policy.usesParentProxy(for: host) else { return nil }
        return policy.parentProxy?.url.value
    }

    /// Connects to the first candidate that answers, entirely with futures on `eventLoop`.
    func connect(_ candidates: [IPAddress], port: Int, on eventLoop: any EventLoop) -> EventLoopFuture<(any Channel, IPAddress)> {
        guard let first = candidates.first else { return eventLoop.makeFailedFuture(DialError.connectFailed("no address")) }
        return connectFuture(first, port: port, on: eventLoop).map { ($0, first) }.flatMapError { error in
            candidates.count > 1 ? self.connect(Array(candidates.dropFirst()), port: port, on: eventLoop) : eventLoop.makeFailedFuture(error)
        }
    }

    func connect(_ address: IPAddress, port: Int, on eventLoop: any EventLoop) async throws(DialError) -> any Channel {
        do {
            return try await connectFuture(address, port: port, on: eventLoop).get()
        } catch let error as DialError {
            throw error
        } catch {
            throw DialError.connectFailed("\(error)")
        }
    }

    /// Fails only with `DialError`.
    func connectFuture(_ address: IPAddress, port: Int, on eventLoop: any EventLoop) -> EventLoopFuture<any Channel> {
        let socketAddress: SocketAddress
        do {
            socketAddress = try SocketAddress(ipAddress: address.description, port: port)
        } catch {
            return eventLoop.makeFailedFuture(DialError.connectFailed("\(error)"))
        }
        // No idle timer here: every byte of a flow also passes the client's channel, whose timer
        // closes the client, and the client's close closes this side.
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Before registration, so no read happens until the caller glues the channel.
                    try EgressProxy.configure(channel, autoRead: false, halfClosure: true)
                }
            }
        let timeout = connectTimeout
        return bootstrap.connect(to: socketAddress).flatMapErrorThrowing { error in
            if let channelError = error as? ChannelError, channelError == .connectTimeout(timeout) { throw DialError.timedOut }
            throw DialError.connectFailed("\(error)")
        }
    }

    private func dialThroughParent(_ parent: ParentProxyAddress, host: Host, port: Int, on eventLoop: any EventLoop) async throws(DialError) -> (
        channel: any Channel, address: IPAddress
    ) {
        // The parent is the organisation's proxy, named by the user: no private-address check.
        guard let parentHost = Host(parent.host) else { throw DialError.connectFailed("bad parent proxy host \(parent.host)") }
        let addresses = try await addresses(for: parentHost)
        guard let address = addresses.first else { throw DialError.connectFailed("parent proxy has no address") }
        do {
            return (try await connect(throughParent: parent, at: address, host: host, port: port, on: eventLoop).get(), address)
        } catch let error as DialError {
            throw error
        } catch {
            throw DialError.connectFailed("\(error)")
        }
    }

    /// What went wrong with the parent, in words: its own refusal (status line), or TLS.
    static func parentFailure(_ error: any Error, parent: ParentProxyAddress) -> DialError {
        if let error = error as? DialError { return error }
        if let refused = error as? ParentConnectHandler.Refused { return .parentProxyRefused(refused.status) }
        if let error = error as? NIOSSLExtraError, error == .failedToValidateHostname {
            return .parentProxyTLS("its certificate does not name \(parent.host)")
        }
        if let error = error as? NIOSSLError, case .handshakeFailed(let cause) = error,
            "\(cause)".contains("CERTIFICATE_VERIFY_FAILED")
        {
            return .parentProxyTLS(
                "its certificate for \(parent.host) is not signed by a trusted CA (egress.parent_proxy.ca_file, else the system's trust store)")
        }
        if error is NIOSSLError || error is NIOSSLExtraError { return .parentProxyTLS("\(error)") }
        return .parentProxyRefused("\(error)")
    }

    /// The parent proxy's address when no lookup is needed (a literal or a pin).
    func knownAddress(of parent: ParentProxyAddress) -> IPAddress? {
        switch Host(parent.host) {
        case .address(let address): return address
        case .name(let name): return policy.pins[name]?.first
        case nil: return nil
        }
    }

    /// Connects to the parent at `address` and asks it for `host:port`, entirely with futures on
    /// `eventLoop`. Fails only with `DialError`.
    func connect(throughParent parent: ParentProxyAddress, at address: IPAddress, host: Host, port: Int, on eventLoop: any EventLoop)
        -> EventLoopFuture<any Channel>
    {
        let target = host.address.map(\.hostLiteral) ?? host.description
        let tls = try? parentTLS?.get()
        return connectFuture(address, port: parent.port, on: eventLoop).flatMap { channel in
            let promise = channel.eventLoop.makePromise(of: Void.self)
            do {
                if parent.tls {
                    // TLS to the proxy itself first: the CONNECT and the tunnel go inside it.
                    guard let tls else { throw DialError.connectFailed("no TLS set-up for the https parent proxy") }
                    try channel.pipeline.syncOperations.addHandler(try ParentProxyTLS.handler(context: tls, host: parent.host))
                }
                try channel.pipeline.syncOperations.addHandler(ParentConnectHandler(target: "\(target):\(port)", done: promise))
            } catch {
                promise.fail(error)
            }
            return promise.futureResult.map { channel }.flatMapErrorThrowing { error in
                channel.close(promise: nil)
                throw Self.parentFailure(error, parent: parent)
            }
        }
    }
}
