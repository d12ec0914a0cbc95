import Testing
@testable import CordonConfig

@Suite struct StarterProfileTests {
    @Test func templateIsAValidProfile() throws {
        let p = try Fixture.parse(StarterProfile.text(directoryName: "my app!"))
        #expect(p.name == "my-app")
        #expect(p.mode == .secure)
        #expect(p.workspace == "/projects/app")
        #expect(p.resources == Profile.defaults.resources)
        #expect(p.sync == Profile.defaults.sync)
    }

    @Test func templateWithPresets() throws {
        let p = try Fixture.parse(StarterProfile.text(directoryName: "app", presets: ["claude-code", "github"]))
        #expect(p.presets == ["anthropic", "claude-code", "github"])
    }

    @Test(arguments: [("app", "app"), ("_x", "x"), ("", "default"), ("日本", "default"), ("a b", "a-b")])
    func names(_ directory: String, _ name: String) {
        #expect(StarterProfile.profileName(from: directory) == name)
    }
}
