import CordonConfig
import CordonNet
import CordonSandbox
import Testing

/// The profile's egress limits reach the network layer unchanged.
@Suite struct NetworkAttachmentTests {
    @Test func egressLimitsAreMapped() {
        let egress = Profile.Egress(
            domains: [".github.com"], maxConnections: 9, requestTimeout: 2.5, dnsNamesPerMinute: 11, dnsMaxLabel: 12, dnsMaxEntropy: 3.25)
        let configuration = EgressConfiguration(egress)
        #expect(configuration.maxConnections == 9)
        #expect(configuration.requestTimeout == 2.5)
        #expect(configuration.dnsBound == .init(namesPerMinute: 11, maxLabelLength: 12, maxEntropy: 3.25))
    }
}
