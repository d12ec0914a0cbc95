public import CordonCore
public import CordonPolicy
import CordonTLS
public import CordonUsage
public import CordonScan
import NIOCore
import NIOSSL
import Synchronization

/// TLS interception: which hosts' connections the proxy terminates (those bound to a secret, and
/// `egress.inspect`), the certificates it shows the sandbox for them (minted by cordon's CA, one
/// cached context per host), and how it verifies the real servers (the host's trust store plus
/// `egress.upstream_ca`). Every other TLS connection stays a tunnel whose bytes cordon never reads.
public final class Interception: Sendable {
    public let secrets: [BoundSecret]
    /// `egress.inspect`: terminated without a secret, so that every request's Host is checked.
    public let inspected: [DomainPattern]
    /// The sandbox's AWS credentials (`inject: sigv4`), for re-signing; nil: none bound.
    public let aws: AWSSigning?
    /// Reads LLM token usage from the responses of intercepted requests and enforces the
    /// profile's budgets (`usage:`); nil: not metered.
    public let usage: UsageMeter?
    /// The outbound leak check over intercepted request bodies (`egress.dlp`): the gate's rules,
    /// compiled once and shared; nil: off.
    public let leakCheck: (scanner: SecretScanner, mode: LeakCheckMode)?
    /// Mints the leaf for a host: its chain and key as PEM (cordon's CA, `CordonTLS`).
    public typealias LeafIssuer = @Sendable (String) throws(CordonError) -> (chain: String, key: String)
    private let leaves: LeafIssuer
    private let upstream: NIOSSLContext
    private let serverContexts = Mutex<[String: NIOSSLContext]>([:])
    let injector: SecretInjector

    /// `upstreamCA`: PEM files of extra CAs trusted when verifying the real servers (read now: a
    /// bad file stops the sandbox before it starts).
    public init(
        secrets: [BoundSecret], inspected: [DomainPattern], aws: AWSSigning? = nil, usage: UsageMeter? = nil,
        leakCheck: (scanner: SecretScanner, mode: LeakCheckMode)? = nil, leaves: @escaping LeafIssuer, upstreamCA: [String]
    ) throws(CordonError) {
        self.usage = usage
        self.leakCheck = leakCheck
        self.secrets = secrets
        self.inspected = inspected
        self.aws = aws
        self.leaves = leaves
        self.injector = SecretInjector(secrets: secrets, aws: aws)
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        var extra: [NIOSSLCertificate] = []
        for path in upstreamCA {
            do { extra += try NIOSSLCertificate.fromPEMFile(path) } catch {
                throw CordonError(.invalidProfile, "egress.upstream_ca: cannot read PEM certificates from \(path)", cause: "\(error)")
            }
        }
        if !extra.isEmpty { configuration.additionalTrustRoots = [.certificates(extra)] }
        do { upstream = try NIOSSLContext(configuration: configuration) } catch {
            throw CordonError(.sandboxSetup, "cannot set up TLS to the servers of bound domains", cause: "\(error)")
        }
    }

    /// Whether connections to `host` are terminated here.
    public func intercepts(_ host: Host) -> Bool {
        secrets.contains { $0.isBound(to: host) } || inspected.contains { $0.matchesName(host) }
    }

    /// The server side shown to the sandbox for `host`: a leaf from cordon's CA, http/1.1 only.
    func serverContext(for host: Host) throws -> NIOSSLContext {
        let name = host.description
        if let cached = serverContexts.withLock({ $0[name] }) { return cached }
        let (chain, key) = try leaves(name)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(chain.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(key.utf8), format: .pem)))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        let context = try NIOSSLContext(configuration: configuration)
        serverContexts.withLock {
            if $0.count >= 256 { $0.removeAll() }
            $0[name] = context
        }
        return context
    }

    /// The client side towards the real server of `host`: its certificate must chain to a trusted
    /// CA and name `host`.
    func upstreamHandler(for host: Host) throws -> NIOSSLClientHandler {
        try NIOSSLClientHandler(context: upstream, serverHostname: host.address == nil ? host.description : nil)
    }

    /// Terminates the client's TLS at the handler of `context` (a first-bytes reader that saw a
    /// ClientHello naming `host`): TLS with a minted leaf, then every request through
    /// `HTTPProxyHandler` in `.intercepted` mode, the first on `upstream`. `pending`: the bytes
    /// read so far (the ClientHello), replayed into TLS.
    static func takeOver(
        from context: ChannelHandlerContext, proxy: EgressProxy, interception: Interception, record: FlowRecord, host: Host, port: Int,
        upstream: (decision: Decision, channel: any Channel), replaying pending: [ByteBuffer]
    ) throws {
        let pipeline = context.pipeline.syncOperations
        let tls = NIOSSLServerHandler(context: try interception.serverContext(for: host))
        try pipeline.addHandler(tls, position: .after(context.handler))
        let handler = HTTPProxyHandler(proxy: proxy, record: record, mode: .intercepted(host: host, port: port), predialled: upstream)
        try HTTPProxyHandler.install(handler, after: tls, in: pipeline)
        for buffer in pending { context.fireChannelRead(NIOAny(buffer)) }
        context.fireChannelReadComplete()
        pipeline.removeHandler(context: context, promise: nil)
    }
}

extension Interception {
    /// The interception for `secrets` with cordon's CA (kept in `authorityDirectory`, made on first
    /// use; its key never leaves that 0700 directory), the bundle the sandbox is to trust (the
    /// host's CAs and cordon's), and the host's own bundle it stands in for (nil: the host has none).
    public static func withCordonAuthority(
        secrets: [BoundSecret], inspected: [DomainPattern], aws: AWSSigning? = nil, usage: UsageMeter? = nil,
        leakCheck: (scanner: SecretScanner, mode: LeakCheckMode)? = nil, authorityDirectory: String, upstreamCA: [String]
    ) throws(CordonError) -> (Interception, trustBundle: String, hostBundle: String?) {
        let authority = try CertificateAuthority.loadOrCreate(in: authorityDirectory)
        let leaves = LeafCertificates(authority: authority)
        let interception = try Interception(
            secrets: secrets, inspected: inspected, aws: aws, usage: usage, leakCheck: leakCheck,
            leaves: { host throws(CordonError) in try leaves.issue(for: host).pem() },
            upstreamCA: upstreamCA)
        let bundle = String(decoding: try TrustBundle.merged(authority: authority), as: UTF8.self)
        return (interception, bundle, TrustBundle.hostBundle)
    }

    /// The variables OpenSSL, curl, Python, Node, git and the AWS SDKs read for their CA bundle.
    public static var trustBundleVariables: [String] { TrustBundle.variables }
}
