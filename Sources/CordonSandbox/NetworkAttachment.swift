public import CordonConfig
import CordonCore
public import CordonNet
import CordonOS
import Glibc

extension EgressConfiguration {
    /// The profile's `egress` section as the network layer takes it.
    public init(_ egress: Profile.Egress) {
        self.init(
            domains: egress.domains, deny: egress.deny.map { DenyRule(domain: $0.domain, reason: $0.reason) },
            allowPrivate: egress.allowPrivate, resolve: egress.resolve, prompt: egress.prompt,
            parentProxy: egress.parentProxy.map { ParentProxy(url: $0.url, noProxy: $0.noProxy, caFile: $0.caFile) },
            rateLimits: egress.rateLimits, blocklists: egress.blocklists,
            dnsBound: WildcardNameBound.Limits(
                namesPerMinute: egress.dnsNamesPerMinute, maxLabelLength: egress.dnsMaxLabel, maxEntropy: egress.dnsMaxEntropy),
            maxConnections: egress.maxConnections, requestTimeout: egress.requestTimeout)
    }
}

/// The unix socket over which cordon-init hands the supervisor the listeners it made inside
/// the sandbox's network namespace (or the reason it could not).
struct CaptureChannel {
    let parent: Int32
    private(set) var child: Int32

    static func make() throws(CordonError) -> CaptureChannel {
        let pair = try socketPair(SOCK_SEQPACKET)
        return CaptureChannel(parent: pair.parent, child: pair.child)
    }

    mutating func closeChild() {
        if child >= 0 { close(child) }
        child = -1
    }

    enum Received {
        case listeners([Int32])
        case unavailable(String)
        /// init ended before reporting (its setup error says why).
        case closed
    }

    /// Blocks until init reports; closes the parent end.
    func receive() -> Received {
        defer { close(parent) }
        guard let got = try? DescriptorPassing.receive(over: parent, maxDescriptors: 8, capacity: 4096) else { return .closed }
        let received = got.descriptors
        guard !got.message.isEmpty else {
            received.forEach { close($0) }
            return .closed
        }
        let message = String(decoding: got.message, as: UTF8.self)
        if message == "ok", received.count == 4 { return .listeners(received) }
        received.forEach { close($0) }
        return .unavailable(message == "ok" ? "init handed over \(received.count) listeners instead of 4" : message)
    }
}
