import CCordon
public import CordonConfig
import CordonCore
public import CordonNet
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
