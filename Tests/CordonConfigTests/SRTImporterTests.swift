import CordonCore
import Testing
@testable import CordonConfig

@Suite struct SRTImporterTests {
    static let srt = """
        {
        \t"network": {
            "allowedDomains": ["github.com", "*.npmjs.org", "api.example.com:443", "*.com"],
            "deniedDomains": ["github.com:22", "evil.example"],
            "deniedDomainReasons": {"github.com:22": "use an https remote", "nothere.example": "x"},
            "allowUnixSockets": ["/var/run/docker.sock"],
            "allowLocalBinding": true,
            "parentProxy": {"https": "http://proxy.corp:3128", "noProxy": "localhost, .corp"}
          },
          "filesystem": {
            "denyRead": ["~/.ssh", ".env"],
            "allowWrite": [".", "/tmp", "~/.npm", "src/**/*.gen"],
            "denyWrite": [".git/hooks", "/etc"]
          },
          "enableWeakerNestedSandbox": false
        }
        """

    @Test func mapsWhatMapsAndNotesEverythingElse() throws {
        let result = try SRTImporter.convert(json: Self.srt, file: "srt.json")
        let p = result.profile
        #expect(p.egress.domains.map(\.text) == ["github.com", "*.npmjs.org", "api.example.com:443"])
        #expect(try p.egress.deny == [.init(domain: "github.com:22", reason: "use an https remote"), .init(domain: "evil.example")])
        #expect(try p.egress.parentProxy == .init(url: "http://proxy.corp:3128", noProxy: ["localhost", ".corp"]))
        #expect(p.mounts == [.init(host: "~/.npm", sandbox: "~/.npm", mode: .overlay)])
        #expect(p.sync.deny == [".git/hooks"])

        let expectedNotes = [
            "network.allowedDomains[3]", "deniedDomainReasons.nothere.example", "network.allowUnixSockets", "network.allowLocalBinding",
            "filesystem.denyRead[0]", "filesystem.denyRead[1]", "filesystem.allowWrite[0]", "filesystem.allowWrite[1]",
            "filesystem.allowWrite[2]", "filesystem.allowWrite[3]", "filesystem.denyWrite[1]", "enableWeakerNestedSandbox",
        ]
        for field in expectedNotes {
            #expect(result.notes.contains { $0.contains(field) }, "no note for \(field): \(result.notes)")
        }
        #expect(result.notes.count == expectedNotes.count, "\(result.notes)")
        #expect(result.notes.allSatisfy { $0.hasPrefix("srt.json:") })
    }

    @Test func importedProfileRendersAndLoads() throws {
        let result = try SRTImporter.convert(json: Self.srt, file: "srt.json")
        let yaml = ProfileRenderer.yaml(result.profile, minimal: true)
        let loaded = try Fixture.parse(yaml)
        #expect(loaded.egress.domains == result.profile.egress.domains)
        #expect(loaded.mounts == [.init(host: "/home/tester/.npm", sandbox: "~/.npm", mode: .overlay)])
    }

    @Test func claudeCodeSettings() throws {
        let json = """
            {"model": "opus",
             "permissions": {"allow": ["WebFetch(domain:docs.example.com)", "Bash(ls:*)"], "deny": ["WebFetch(domain:bad.example)"], "defaultMode": "plan"},
             "sandbox": {"enabled": true, "network": {"allowedDomains": ["pypi.org"], "allowLocalBinding": true}, "excludedCommands": ["docker"]}}
            """
        let result = try SRTImporter.convert(json: json, file: "settings.json")
        #expect(result.profile.egress.domains.map(\.text) == ["docs.example.com", "pypi.org"])
        #expect(try result.profile.egress.deny == [.init(domain: "bad.example")])
        for field in [
            "model", "permissions.allow", "permissions.defaultMode", "sandbox.enabled", "sandbox.network.allowLocalBinding", "sandbox.excludedCommands",
        ] {
            #expect(result.notes.contains { $0.contains(": \(field):") }, "no note for \(field): \(result.notes)")
        }
        #expect(result.notes.count == 6)
    }

    @Test func invalidJSONNamesThePosition() {
        let error = #expect(throws: CordonError.self) { try SRTImporter.convert(json: "{\n  \"network\": [\n", file: "bad.json") }
        #expect(error?.location?.file == "bad.json")
        #expect(error?.location?.line != nil)
    }
}
