import CordonConfig
import CordonCore
import CordonPolicy
import CordonTestSupport
import Testing

/// Issue #23: `egress` is read by one grammar. What `cordon config validate` accepts the proxy
/// accepts, with the same meaning; what one refuses the other refuses, and validation says where.
@Suite struct OneGrammarTests {
    static let loader = ProfileLoader(
        paths: CordonPaths(configHome: "/nonexistent/cordon-config", stateHome: "/nonexistent/cordon-state"), homeDirectory: "/home/tester",
        catalog: PresetCatalog(user: []))

    static func diagnostics(_ yaml: String) throws -> [ProfileDiagnostic] {
        try loader.validate(yaml: yaml, file: "profile.yaml").diagnostics
    }

    /// A YAML double-quoted scalar holding `text` exactly.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\t": out += "\\t"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    // MARK: The three examples of the issue

    /// `010.0.0.1` was valid to validation and 8.0.0.1 (octal) to the proxy, which then allowed
    /// that address. Now both refuse it and say why; a request for it is refused too, even when
    /// both of its readings are listed.
    @Test func octalLookingAddressIsRefusedEverywhere() throws {
        let found = try Self.diagnostics("egress:\n  domains:\n    - 010.0.0.1\n")
        let diagnostic = try #require(found.first, "validation accepted 010.0.0.1")
        #expect(diagnostic.location.line == 3 && diagnostic.location.column == 7, "\(diagnostic)")
        #expect(diagnostic.field == "egress.domains[0]")
        #expect(diagnostic.message.contains("010.0.0.1: leading zero — octal forms are ambiguous, write 10.0.0.1 or 8.0.0.1"), "\(diagnostic)")

        let error = #expect(throws: CordonError.self) { try EgressPolicy(EgressConfiguration(domains: ["010.0.0.1"])) }
        #expect(error?.message.contains("leading zero") == true, "\(String(describing: error))")

        let policy = try EgressPolicy(EgressConfiguration(domains: ["8.0.0.1", "10.0.0.1"]))
        for spelling in ["010.0.0.1", "010.0.0.1.", "0x8.0.0.1", "134217729", "8.1"] {
            let decision = policy.decide(host: spelling, port: 443)
            #expect(decision.verdict == .deny && decision.rule == "ip-literal", "\(spelling): \(decision)")
            #expect(decision.reason.contains("write"), "\(spelling): \(decision)")
        }
        #expect(policy.decide(host: "8.0.0.1", port: 443).isAllowed)
        #expect(policy.decide(host: "10.0.0.1", port: 443).isAllowed)

        // The same rule for every address field: allow_private and resolve.
        #expect(try Self.diagnostics("egress:\n  allow_private: [010.0.0.0/8]\n").first?.message.contains("leading zero") == true)
        #expect(try Self.diagnostics("egress:\n  resolve: {a.test: 0x7f.1}\n").first?.message.contains("hex form") == true)
        #expect(throws: CordonError.self) { try EgressPolicy(EgressConfiguration(allowPrivate: ["010.0.0.0/8"])) }
        #expect(throws: CordonError.self) { try EgressPolicy(EgressConfiguration(resolve: ["a.test": "0x7f.1"])) }
    }

    /// `example.123` passed validation, then `cordon run` failed with no position. A last label
    /// all digits is not a domain name (resolvers may read the whole as an address): validation
    /// refuses it at its line and column, and the policy refuses it the same way.
    @Test func allDigitLastLabelIsRefusedWithItsPosition() throws {
        let yaml = "egress:\n  domains:\n    - ok.example\n    - example.123\n"
        let diagnostic = try #require(try Self.diagnostics(yaml).first, "validation accepted example.123")
        #expect(diagnostic.error.description.hasPrefix("profile.yaml:4:7: egress.domains[1]: \"example.123\" is not a valid pattern"), "\(diagnostic)")
        #expect(diagnostic.message.contains("not a domain name"), "\(diagnostic)")
        let error = #expect(throws: CordonError.self) { try EgressPolicy(EgressConfiguration(domains: ["ok.example", "example.123"])) }
        #expect(error?.message.hasPrefix("egress.domains[1]: \"example.123\" is not a valid pattern") == true, "\(String(describing: error))")
        #expect(try EgressPolicy(EgressConfiguration()).decide(host: "example.123", port: 443).rule == "invalid-host")
    }

    /// `bücher.de` and `example.com.` were refused by validation and accepted by the proxy. Both
    /// are accepted now: an IDN is compared as its A-label, one trailing dot is dropped.
    @Test func idnAndTrailingDotAreAcceptedByBoth() throws {
        let yaml = "egress:\n  domains: [\"bücher.de\", \"example.com.\", \"*.bücher.example.\"]\n"
        #expect(try Self.diagnostics(yaml).isEmpty)
        let profile = try Self.loader.parse(yaml: yaml, file: "/p/profile.yaml")
        let policy = try EgressPolicy(profile.egress)
        #expect(policy.allow.map(\.description) == ["xn--bcher-kva.de", "example.com", "*.xn--bcher-kva.example"])
        for host in ["bücher.de", "BÜCHER.de.", "xn--bcher-kva.de", "example.com", "example.com.", "www.bücher.example"] {
            #expect(policy.decide(host: host, port: 443).isAllowed, "\(host)")
        }
        #expect(!policy.decide(host: "buecher.de", port: 443).isAllowed)
    }

    // MARK: Every field reaches the policy

    /// `Profile.egress` is the configuration the proxy takes: no mapping layer in between, so a
    /// field such as `allow_missing_sni` (dropped on the way before) arrives, with its default.
    @Test func everyEgressFieldReachesThePolicy() throws {
        let defaults = try EgressPolicy(try Self.loader.parse(yaml: "", file: "/p/profile.yaml").egress)
        #expect(!defaults.allowMissingSNI)
        let yaml = """
            egress:
              domains: [".github.com"]
              allow_missing_sni: true
              max_connections: 9
              request_timeout: 2500ms
              dns_names_per_minute: 11
              dns_max_label: 12
              dns_max_entropy: 3.25
              parent_proxy: {url: "http://proxy.test:3128", no_proxy: [".corp"]}
            """
        let egress = try Self.loader.parse(yaml: yaml, file: "/p/profile.yaml").egress
        #expect(egress.maxConnections == 9 && egress.requestTimeout == 2.5)
        #expect(egress.dnsBound == .init(namesPerMinute: 11, maxLabelLength: 12, maxEntropy: 3.25))
        let policy = try EgressPolicy(egress)
        #expect(policy.allowMissingSNI)
        #expect(policy.wildcardBound.limits == .init(namesPerMinute: 11, maxLabelLength: 12, maxEntropy: 3.25))
        #expect(!policy.usesParentProxy(for: .name("git.corp")))
        #expect(policy.usesParentProxy(for: .name("github.com")))
        #expect(try Self.diagnostics("egress:\n  allow_missing_sni: maybe\n").first?.field == "egress.allow_missing_sni")
    }

    /// Deny lists take a bare `*` in validation and in the policy alike (every host).
    @Test func denyEverythingIsOneGrammarToo() throws {
        #expect(try Self.diagnostics("egress:\n  deny: [\"*\", \"*:22\"]\n").isEmpty)
        let policy = try EgressPolicy(EgressConfiguration(domains: ["a.example"], deny: [.init(domain: "*:22")]))
        #expect(policy.decide(host: "a.example", port: 22).rule == "deny:*:22")
        #expect(policy.decide(host: "a.example", port: 443).isAllowed)
        #expect(try !Self.diagnostics("egress:\n  domains: [\"*\"]\n").isEmpty)
        #expect(throws: CordonError.self) { try EgressPolicy(EgressConfiguration(domains: ["*"])) }
    }

    // MARK: The property

    /// Generated text, fed to validation (a YAML profile), to the field's grammar (the typed
    /// value the configuration holds) and to the policy (built from the configuration, and asked
    /// about a request for the same host): what the parser accepts is exactly what the grammar
    /// makes a typed value of, the profile holds that value (with the text as written), and the
    /// policy decides by it.
    @Test(.timeLimit(.minutes(1)))
    func validationAndPolicyAgree() throws {
        var generator = SplitMix(seed: 0x2023_0023)
        let listsNothing = try EgressPolicy(EgressConfiguration())
        for round in 0..<1500 {
            let text = Self.candidate(&generator)
            let context = "round \(round): \(Self.quoted(text))"

            // egress.domains
            let allowYAML = "egress:\n  domains: [\(Self.quoted(text))]\n"
            let allowValidation = try Self.loader.validate(yaml: allowYAML, file: "profile.yaml")
            let validAllow = allowValidation.isValid
            let allowed = try? EgressConfiguration.allowedPattern(text).get()
            #expect(validAllow == (allowed != nil), "\(context) domains: validation \(validAllow)")
            let allowPolicy = try? EgressPolicy(EgressConfiguration(domains: [text]))
            #expect(validAllow == (allowPolicy != nil), "\(context) domains: validation \(validAllow)")
            if let allowPolicy, let allowed, validAllow {
                let profile = try #require(allowValidation.profile)
                #expect(profile.egress.domains == [allowed] && allowed.text == text, "\(context)")
                let fromProfile = try EgressPolicy(profile.egress)
                #expect(fromProfile.allow == [allowed.value] && allowPolicy.allow == [allowed.value], "\(context)")
                #expect(allowed.value.description == (try? DomainPattern(text))?.description, "\(context)")
            }

            // A request for the same text as a host: allowed by a policy listing it exactly
            // when validation accepts it as an exact, port-less pattern.
            if !text.hasPrefix("*"), !text.hasPrefix("."), !text.contains(":") || text.hasPrefix("["), !text.contains("]:") {
                let decision = (allowPolicy ?? listsNothing).decide(host: text, port: 443)
                let named = text.isEmpty ? false : decision.isAllowed
                #expect(named == validAllow, "\(context) request: \(decision)")
            }

            // egress.deny (a bare `*` is allowed there)
            let denyYAML = "egress:\n  deny: [\(Self.quoted(text))]\n"
            let denyValidation = try Self.loader.validate(yaml: denyYAML, file: "profile.yaml")
            let validDeny = denyValidation.isValid
            let denied = try? EgressConfiguration.deniedPattern(text).get()
            #expect(validDeny == (denied != nil), "\(context) deny: validation \(validDeny)")
            let denyPolicy = try? EgressPolicy(EgressConfiguration(deny: [.init(domain: text)]))
            #expect(validDeny == (denyPolicy != nil), "\(context) deny: validation \(validDeny)")
            if let denied, validDeny {
                let profile = try #require(denyValidation.profile)
                #expect(profile.egress.deny.map(\.domain) == [denied], "\(context)")
                #expect(try EgressPolicy(profile.egress).deny.map(\.pattern) == [denied.value], "\(context)")
            }

            // egress.allow_private and egress.resolve: the address grammar.
            let cidrYAML = "egress:\n  allow_private: [\(Self.quoted(text))]\n"
            let cidrValidation = try Self.loader.validate(yaml: cidrYAML, file: "profile.yaml")
            let validCIDR = cidrValidation.isValid
            let network = try? EgressConfiguration.privateNetwork(text).get()
            #expect(validCIDR == (network != nil), "\(context) allow_private")
            #expect(validCIDR == ((try? EgressPolicy(EgressConfiguration(allowPrivate: [text]))) != nil), "\(context) allow_private")
            if let network, validCIDR {
                let profile = try #require(cidrValidation.profile)
                #expect(profile.egress.allowPrivate == [network], "\(context)")
                #expect(try EgressPolicy(profile.egress).addressPolicy.allowPrivate == [network.value], "\(context)")
            }
            let pinYAML = "egress:\n  resolve: {pinned.test: \(Self.quoted(text))}\n"
            let pinValidation = try Self.loader.validate(yaml: pinYAML, file: "profile.yaml")
            let validPin = pinValidation.isValid
            let pinned = try? EgressConfiguration.pinnedAddresses(text).get()
            #expect(validPin == (pinned != nil), "\(context) resolve")
            #expect(validPin == ((try? EgressPolicy(EgressConfiguration(resolve: ["pinned.test": text]))) != nil), "\(context) resolve")
            if let pinned, validPin {
                let profile = try #require(pinValidation.profile)
                #expect(profile.egress.resolve.map(\.value) == [pinned], "\(context)")
                #expect(try EgressPolicy(profile.egress).pins["pinned.test"] == pinned.value, "\(context)")
            }
        }
    }

    static func candidate(_ g: inout SplitMix) -> String {
        func pick<T>(_ items: [T]) -> T { items[Int(g.next() % UInt64(items.count))] }
        func chance(_ percent: UInt64) -> Bool { g.next() % 100 < percent }
        let v4Parts = ["0", "1", "8", "10", "010", "08", "127", "0177", "255", "256", "0x7f", "0X0a", "00", "1e1", "999", "4294967295"]
        let v6 = [
            "::1", "[::1]", "fe80::1%eth0", "[fe80::1%25eth0]", "::ffff:127.0.0.1", "2001:db8::1", "[2001:db8::1]", "1::2::3", "[::1", ":::",
            "::ffff:010.0.0.1", "[::ffff:1.2.3.4]",
        ]
        let labels = [
            "example", "com", "de", "bücher", "BÜCHER", "пример", "例え", "xn--bcher-kva", "a", "-a", "a-", "a_b", "123", "0x1f", "github", "co",
            String(repeating: "a", count: 63), String(repeating: "b", count: 64), "", "ß", "a b", "*", "%", "e\u{301}",
        ]
        let ports = ["443", "80", "0", "65535", "65536", "+80", "08", "", "x", "22"]
        var text: String
        switch g.next() % 5 {
        case 0:
            let count = Int(g.next() % 5) + 1
            text = (0..<count).map { _ in pick(v4Parts) }.joined(separator: ".")
            if chance(10) { text += "/" + pick(["8", "32", "33", "08", "-1", ""]) }
        case 1:
            text = pick(v6)
            if chance(20) { text += "/" + pick(["64", "128", "129"]) }
        case 2, 3:
            let count = Int(g.next() % 4) + 1
            text = (0..<count).map { _ in pick(labels) }.joined(separator: pick([".", ".", ".", "\u{3002}", ".."]))
            if chance(25) { text = pick(["*.", ".", "**.", "*", "*.*."]) + text }
        default:
            let junk = Array("aZ9-_.:/[]%* \t@ü#")
            text = String((0..<Int(g.next() % 10)).map { _ in pick(junk) })
        }
        if chance(15) { text += "." }
        if chance(20), !text.hasPrefix("[") || text.hasSuffix("]") { text += ":" + pick(ports) }
        return text
    }
}
