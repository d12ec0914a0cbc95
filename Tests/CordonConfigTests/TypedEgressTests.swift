import CordonConfig
import CordonCore
import CordonPolicy
import CordonTestSupport
import Foundation
import Testing

/// Issue #23: `Profile.egress` holds typed values, parsed once where they enter, each with the
/// text as written; the policy compiles them without reading a string again.
@Suite struct TypedEgressTests {
    static let yaml = """
        egress:
          domains: ["Example.COM.", "*.bücher.example", "[::1]:8080"]
          deny: ["*:22", {domain: "Secret.Example.COM", reason: keys}]
          allow_private: ["10.0.0.0/8"]
          resolve: {"API.Internal.": "10.0.0.5, ::1"}
          rate_limits: {"*.bücher.example": 30}
          parent_proxy: {url: "http://user@proxy.corp:3128/", no_proxy: [".corp"]}
        """

    /// The profile holds the parsed values; the text stays as written, so the profile renders
    /// back as the user wrote it (not in the canonical form).
    @Test func theProfileHoldsTypedValuesWithTheirText() throws {
        let egress = try Fixture.parse(Self.yaml).egress
        #expect(egress.domains.map(\.text) == ["Example.COM.", "*.bücher.example", "[::1]:8080"])
        #expect(egress.domains.map(\.value.description) == ["example.com", "*.xn--bcher-kva.example", "[::1]:8080"])
        #expect(egress.deny.map(\.domain.value.kind) == [.any, .exact])
        #expect(egress.allowPrivate.first?.value == CIDR("10.0.0.0/8"))
        let pin = try #require(egress.resolve.first)
        #expect(pin.key.text == "API.Internal." && pin.key.value == "api.internal")
        #expect(pin.value.value == [IPAddress("10.0.0.5"), IPAddress("::1")].compactMap { $0 })
        let parent = try #require(egress.parentProxy)
        #expect(parent.url.text == "http://user@proxy.corp:3128/" && parent.url.value == ParentProxyAddress("http://proxy.corp:3128"))
        #expect(parent.noProxy.first?.value.kind == .apexAndSubdomains)

        let rendered = ProfileRenderer.yaml(try Fixture.parse(Self.yaml), minimal: true)
        for written in ["Example.COM.", "Secret.Example.COM", "API.Internal.", "10.0.0.5, ::1", "http://user@proxy.corp:3128/"] {
            #expect(rendered.contains(written), "\(written) not rendered as written:\n\(rendered)")
        }
        #expect(try Fixture.parse(rendered).egress == egress)

        let policy = try EgressPolicy(egress)
        #expect(policy.decide(host: "example.com", port: 443).isAllowed)
        #expect(policy.decide(host: "secret.example.com", port: 443).rule == "deny:secret.example.com")
        #expect(policy.pins["api.internal"]?.count == 2)
        #expect(policy.rateLimit(for: .name("a.xn--bcher-kva.example"))?.perMinute == 30)
        #expect(!policy.usesParentProxy(for: .name("git.corp")))
    }

    /// A pattern another field's grammar admits, put in `egress.domains` by code, does not widen
    /// the allow list: the policy checks the typed value (a bare `*` from the deny grammar, a
    /// one-label wildcard from `no_proxy`'s) and refuses the configuration.
    @Test func aPatternOfAnotherGrammarIsRefusedInTheAllowList() throws {
        for (pattern, field) in [
            (try EgressConfiguration.deniedPattern("*").get(), "\"*\" would allow every host"),
            (try EgressConfiguration.directPattern(".corp").get(), "a whole top-level domain is too broad"),
        ] {
            var configuration = EgressConfiguration()
            configuration.domains = [pattern]
            let error = #expect(throws: CordonError.self) { try EgressPolicy(configuration) }
            #expect(error?.message.hasPrefix("egress.domains[0]: \"\(pattern.text)\" is not a valid pattern") == true, "\(String(describing: error))")
            #expect(error?.message.contains(field) == true, "\(String(describing: error))")

            var limited = EgressConfiguration()
            limited.rateLimits = [pattern: 10]
            #expect(throws: CordonError.self) { try EgressPolicy(limited) }
        }
        // The same patterns where their grammar puts them.
        var configuration = EgressConfiguration()
        configuration.deny = [.init(domain: try EgressConfiguration.deniedPattern("*").get())]
        configuration.parentProxy = .init(
            url: try EgressConfiguration.proxyURL("http://p.test:3128").get(), noProxy: [try EgressConfiguration.directPattern(".corp").get()])
        let policy = try EgressPolicy(configuration)
        #expect(policy.decide(host: "example.com", port: 443).rule == "deny:*")
    }

    /// The JSON shape is the profile's (strings as written), and decoding parses each string with
    /// its field's grammar: a record holding what the profile would refuse does not decode.
    @Test func codableKeepsTheStringShapeAndParsesOnDecode() throws {
        let egress = try Fixture.parse(Self.yaml).egress
        let data = try JSONEncoder().encode(egress)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["domains"] as? [String] == ["Example.COM.", "*.bücher.example", "[::1]:8080"])
        #expect(object["resolve"] as? [String: String] == ["API.Internal.": "10.0.0.5, ::1"])
        #expect(object["rateLimits"] as? [String: Int] == ["*.bücher.example": 30])
        #expect((object["parentProxy"] as? [String: Any])?["url"] as? String == "http://user@proxy.corp:3128/")
        #expect(try JSONDecoder().decode(EgressConfiguration.self, from: data) == egress)

        for hostile in [
            #"{"domains": ["*"]}"#, #"{"domains": [".com"]}"#, #"{"domains": ["010.0.0.1"]}"#, #"{"deny": [{"domain": "a b"}]}"#,
            #"{"allowPrivate": ["10.0.0.0/33"]}"#, #"{"resolve": {"*.x.test": "1.2.3.4"}}"#, #"{"resolve": {"x.test": "0x7f.1"}}"#,
            #"{"rateLimits": {"*": 5}}"#, #"{"parentProxy": {"url": "socks5://p:1080"}}"#,
            #"{"parentProxy": {"url": "http://p:3128", "noProxy": ["*"]}}"#,
        ] {
            #expect(throws: DecodingError.self, "\(hostile)") { try JSONDecoder().decode(EgressConfiguration.self, from: Data(hostile.utf8)) }
        }
        #expect(try JSONDecoder().decode(EgressConfiguration.self, from: Data("{}".utf8)) == EgressConfiguration())
    }

    /// "Allow always" answers are parsed once when the profile loads, with the `egress.domains`
    /// grammar: a line it refuses (an edited file) is an error naming the file and line, for a
    /// run and for validation alike, never a pattern the policy would read another way.
    @Test func approvedPatternsAreParsedWithTheirFileAndLine() throws {
        let scratch = try TempTree(prefix: "cordon-approvals")
        let paths = CordonPaths(configHome: scratch.root, stateHome: scratch.root + "/state")
        try FileManager.default.createDirectory(atPath: scratch.root + "/approvals", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: paths.profilesDirectory, withIntermediateDirectories: true)
        try "name: box\negress:\n  domains: [listed.example]\n".write(toFile: paths.profilesDirectory + "/box.yaml", atomically: true, encoding: .utf8)
        let file = ApprovalFile(paths: paths, profile: "box")
        let loader = ProfileLoader(paths: paths, homeDirectory: "/home/tester", catalog: PresetCatalog(user: []))

        try "# approved\nApproved.Example\nlisted.example\n\nport.example:8443\n".write(toFile: file.path, atomically: true, encoding: .utf8)
        let loaded = try loader.load(reference: "box", currentDirectory: "/")
        #expect(loaded.profile.egress.domains.map(\.text) == ["listed.example", "Approved.Example", "port.example:8443"])
        #expect(loaded.profile.egress.domains[1].value.description == "approved.example")

        for bad in ["*", ".com", "https://evil.example/", "010.0.0.1"] {
            try "ok.example\n\(bad)\n".write(toFile: file.path, atomically: true, encoding: .utf8)
            let error = #expect(throws: CordonError.self) { try loader.load(reference: "box", currentDirectory: "/") }
            #expect(error?.location == .init(file: file.path, line: 2, column: 1), "\(bad): \(String(describing: error))")
            #expect(error?.message.contains("approved \"\(bad)\" is not a valid pattern") == true, "\(bad): \(String(describing: error))")
            let validation = try loader.validate(file: paths.profilesDirectory + "/box.yaml")
            #expect(!validation.isValid && validation.diagnostics.first?.location.line == 2, "\(bad): \(validation.diagnostics)")
        }
    }

    /// What `cordon allow … --always` and an "always" answer write is a pattern the next load
    /// reads back: an IPv6 address in brackets, and nothing the grammar
    /// refuses ever reaches the file.
    @Test func approvalsAreWrittenAsTheGrammarReadsThem() throws {
        let scratch = try TempTree(prefix: "cordon-approvals")
        let paths = CordonPaths(configHome: scratch.root, stateHome: scratch.root + "/state")
        try FileManager.default.createDirectory(atPath: paths.profilesDirectory, withIntermediateDirectories: true)
        try "name: box\n".write(toFile: paths.profilesDirectory + "/box.yaml", atomically: true, encoding: .utf8)
        let file = ApprovalFile(paths: paths, profile: "box")
        #expect(ApprovalFile.pattern(host: "::1", port: nil) == "[::1]")
        #expect(ApprovalFile.pattern(host: "::1", port: 8080) == "[::1]:8080")
        #expect(ApprovalFile.pattern(host: "api.example", port: 8443) == "api.example:8443")
        for (host, port) in [("::1", nil), ("fd00::5", 8080), ("10.0.0.7", 2222), ("api.example", nil)] as [(String, Int?)] {
            try file.add(ApprovalFile.pattern(host: host, port: port))
        }
        #expect(throws: CordonError.self) { try file.add("fd00::5:8080") }
        #expect(throws: CordonError.self) { try file.add("*") }
        let loader = ProfileLoader(paths: paths, homeDirectory: "/home/tester", catalog: PresetCatalog(user: []))
        let loaded = try loader.load(reference: "box", currentDirectory: "/")
        #expect(loaded.profile.egress.domains.map(\.text) == ["[::1]", "[fd00::5]:8080", "10.0.0.7:2222", "api.example"])
    }

    /// An srt parent proxy is parsed when imported: a URL or `noProxy` entry cordon's grammar
    /// refuses is noted and left out, never carried into the profile for the run to trip over.
    @Test func srtParentProxyIsParsedOnImport() throws {
        let bad = try SRTImporter.convert(json: #"{"network": {"parentProxy": {"http": "socks5://p.corp:1080"}}}"#, file: "srt.json")
        #expect(bad.profile.egress.parentProxy == nil)
        #expect(bad.notes.contains { $0.contains("socks5://p.corp:1080") && $0.contains("not carried over") }, "\(bad.notes)")

        let json = #"{"network": {"parentProxy": {"http": "http://p.corp:3128", "noProxy": "ok.corp, *, a b"}}}"#
        let partly = try SRTImporter.convert(json: json, file: "srt.json")
        #expect(partly.profile.egress.parentProxy?.url.value == ParentProxyAddress("http://p.corp:3128"))
        #expect(partly.profile.egress.parentProxy?.noProxy.map(\.text) == ["ok.corp"])
        #expect(partly.notes.filter { $0.contains("noProxy") }.count == 2, "\(partly.notes)")
        _ = try EgressPolicy(partly.profile.egress)
    }
}
