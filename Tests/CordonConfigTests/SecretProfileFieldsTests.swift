import CordonCore
import CordonTestSupport
@testable import CordonConfig
import CordonSecrets
import Testing

/// `secrets[].inject` and `egress.upstream_ca`: parsed, validated with errors naming the field,
/// kept through merging and rendering.
@Suite struct SecretProfileFieldsTests {
    @Test(arguments: [
        ("bearer", SecretInjection(scheme: .bearer)), ("token", SecretInjection(scheme: .token)), ("basic", SecretInjection(scheme: .basic)),
        ("x-api-key", SecretInjection(scheme: .xAPIKey)), ("x-goog-api-key", SecretInjection(scheme: .xGoogAPIKey)),
        ("query:key", SecretInjection(scheme: .query, parameter: "key")), ("sigv4", SecretInjection(scheme: .sigv4)),
    ])
    func everySchemeParses(text: String, expected: SecretInjection) throws {
        let profile = try Fixture.parse("secrets:\n  - name: K\n    domains: [api.example.com]\n    inject: \"\(text)\"\n")
        #expect(profile.secrets.first?.inject == expected)
        #expect(profile.secrets.first?.inject?.description == text)
    }

    @Test(arguments: ["Bearer", "query", "query:", "query:a b", "header:x", "cookie"])
    func anUnknownSchemeIsRefusedNamingTheField(text: String) throws {
        let problems = try Fixture.diagnostics("secrets:\n  - name: K\n    inject: \"\(text)\"\n")
        #expect(problems.first?.field == "secrets[0].inject", "\(problems)")
        #expect(problems.first?.hint?.contains("query:PARAM") == true)
    }

    @Test func twoSecretsInOneVariableAreRefused() throws {
        let problems = try Fixture.diagnostics("secrets:\n  - name: A\n    env: TOKEN\n  - name: B\n    env: TOKEN\n")
        #expect(problems.first?.field == "secrets[1].env" && problems.first?.message.contains("\"A\"") == true, "\(problems)")
    }

    @Test func upstreamCABundlesMustBeReadablePEM() throws {
        let tree = try TempTree()
        tree.write("ca.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
        tree.write("key.pem", "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n")
        let good = try Fixture.parse("egress:\n  upstream_ca: [\(tree.path("ca.pem"))]\n")
        #expect(good.egress.upstreamCA == [tree.path("ca.pem")])
        let problems = try Fixture.diagnostics("egress:\n  upstream_ca: [\(tree.path("ca.pem")), \(tree.path("key.pem")), \(tree.path("none.pem"))]\n")
        #expect(problems.map(\.field) == ["egress.upstream_ca[1]", "egress.upstream_ca[2]"], "\(problems)")
        #expect(problems.first?.message.contains("no PEM certificate") == true)
        #expect(problems.last?.message.contains("cannot open \(tree.path("none.pem"))") == true, "\(problems)")
    }

    @Test func theFieldsSurviveMergingAndRendering() throws {
        let tree = try TempTree()
        tree.write("ca.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
        let profile = try Fixture.parse(
            "egress:\n  upstream_ca: [\(tree.path("ca.pem"))]\nsecrets:\n  - name: K\n    domains: [api.example.com]\n    inject: query:key\n")
        let text = ProfileRenderer.json(profile)
        #expect(text.contains("\"upstream_ca\"") && text.contains("\"query:key\""), "\(text)")
    }

    /// A CA bundle decides whom the proxy will trust upstream: an in-workspace profile's bundle
    /// is part of what `cordon trust` hashes, so changing it asks for trust again.
    @Test func anUpstreamCABundleIsPartOfTheTrustDigest() throws {
        let tree = try TempTree()
        tree.write("ca.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
        let profile = try Fixture.parse("egress:\n  upstream_ca: [\(tree.path("ca.pem"))]\n")
        let loaded = LoadedProfile(profile: profile, source: "/projects/app/cordon.yaml")
        let before = ProfileTrust.inputs(of: loaded)
        #expect(before.contains { $0.role == "egress.upstream_ca[0]" && $0.path == tree.path("ca.pem") && $0.sha256 != nil }, "\(before)")
        tree.write("ca.pem", "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n")
        #expect(ProfileTrust.digest(ProfileTrust.inputs(of: loaded)) != ProfileTrust.digest(before))
    }
}
