import CordonCore
import CordonPolicy
import Testing

/// A secret's placeholder inside a host name is an attempt to send it out: refused whatever the
/// lists say, in the proxy's view and the DNS stub's, in any letter case.
@Suite struct PlaceholderNameTests {
    static let placeholder = "cordon-ph-mx44yjpskcrawpf7jibeoipcq2eezmjm"

    @Test func aNameCarryingAPlaceholderIsRefusedEvenUnderAnAllowedWildcard() throws {
        let policy = try EgressPolicy(EgressConfiguration(domains: ["*.example.test", "example.test"]), placeholders: [Self.placeholder])
        for name in [
            "\(Self.placeholder).example.test", "a.\(Self.placeholder.uppercased()).example.test", "x\(Self.placeholder)y.example.test",
        ] {
            let connect = policy.decide(host: name, port: 443)
            #expect(!connect.isAllowed, "\(name)")
            #expect(connect.rule == "placeholder", "\(name)")
            #expect(policy.decideName(name).rule == "placeholder", "\(name)")
        }
        // The same names without the placeholder stay allowed; so does a look-alike.
        #expect(policy.decide(host: "api.example.test", port: 443).isAllowed)
        #expect(policy.decide(host: "cordon-ph-other.example.test", port: 443).isAllowed)
        #expect(policy.decideName("api.example.test").isAllowed)
    }

    @Test func withoutPlaceholdersNothingChanges() throws {
        let policy = try EgressPolicy(EgressConfiguration(domains: ["*.example.test"]))
        #expect(policy.decide(host: "\(Self.placeholder).example.test", port: 443).isAllowed)
    }

    /// The quick test before the closer look: it must never miss the prefix, in any letter case,
    /// at the start, in the middle or at the very end of the text.
    @Test func theQuickTestNeverMissesThePrefix() throws {
        let policy = try EgressPolicy(EgressConfiguration(domains: ["example.test"]), placeholders: [Self.placeholder])
        for text in [
            Self.placeholder, "Bearer " + Self.placeholder.uppercased(), "a=1&key=\(Self.placeholder)", "x" + Self.placeholder,
            "CoRdOn-Ph-" + Self.placeholder.dropFirst(10),
        ] {
            #expect(PlaceholderFormat.mentionsPrefix(text), "\(text)")
            #expect(policy.carriesPlaceholder(text), "\(text)")
        }
        for text in ["", "cordon-ph", "cordon-p-h-", "Bearer sk-123", "ends in cordon-ph"] {
            #expect(!PlaceholderFormat.mentionsPrefix(text), "\(text)")
            #expect(!policy.carriesPlaceholder(text), "\(text)")
        }
        #expect(PlaceholderFormat.mentionsPrefix("ends in cordon-ph-"))
    }
}
