import CordonCore
import Testing
@testable import CordonConfig

@Suite struct BuiltinPresetsTests {
    @Test(arguments: BuiltinPresets.all.map(\.name))
    func parsesAndValidates(_ name: String) throws {
        let (entry, profile) = try Fixture.loader().preset(named: name)
        #expect(entry.isBuiltin)
        #expect(PresetCatalog().description(of: name)?.isEmpty == false)
        #expect(profile.presets.last == name)
        let used = try Fixture.parse("presets: [\(name)]\n")
        #expect(used.presets.last == name)
    }

    @Test func requiredPresetsShip() {
        let names = Set(BuiltinPresets.all.map(\.name))
        for name in ["github", "npm", "pypi", "anthropic", "openai", "crates", "go", "git", "claude-code", "codex", "aider"] {
            #expect(names.contains(name), "\(name) is missing")
        }
    }

    @Test func claudeCodeTemplate() throws {
        let p = try Fixture.parse("presets: [claude-code]\n")
        #expect(p.presets == ["anthropic", "claude-code"])
        #expect(p.data == [.init(name: "claude", path: "~/.claude")])
        #expect(p.copy == [.init(host: "/home/tester/.claude.json", sandbox: "~/.claude.json", optional: true)])
        #expect(p.egress.domains.map(\.text).contains("api.anthropic.com"))
        #expect(p.env["DISABLE_AUTOUPDATER"] == "1")
    }

    @Test func agentsComposeWithEgressGroups() throws {
        let p = try Fixture.parse("presets: [aider, codex, github]\n")
        #expect(p.presets == ["openai", "anthropic", "aider", "codex", "github"])
        #expect(p.egress.deny.first?.domain.text == "github.com:22")
        #expect(Set(p.data.map(\.name)) == ["aider", "codex"])
    }
}
