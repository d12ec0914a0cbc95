import CordonCore
import FoundationEssentials
import Testing

@testable import CordonConfig

/// `mcp.allow_apply`: off by default, a boolean only, merged like other scalars, rendered by
/// `config compile`, and a grant `cordon trust` lists.
@Suite struct MCPProfileFieldTests {
    @Test func offByDefault() throws {
        #expect(try Fixture.parse("name: plain\n").mcp.allowApply == false)
        #expect(Profile.defaults.mcp.allowApply == false)
    }

    @Test func parsedAndRendered() throws {
        let profile = try Fixture.parse("mcp:\n  allow_apply: true\n")
        #expect(profile.mcp.allowApply)
        #expect(ProfileRenderer.json(profile).contains("\"allow_apply\": true"), "\(ProfileRenderer.json(profile))")
        #expect(ProfileRenderer.yaml(profile, minimal: true).contains("allow_apply: true"))
        #expect(!ProfileRenderer.yaml(.defaults, minimal: true).contains("allow_apply"))
        #expect(ProfileTrust.grants(profile).contains { $0.field == "mcp.allow_apply" })
        #expect(!ProfileTrust.grants(.defaults).contains { $0.field == "mcp.allow_apply" })
    }

    @Test(arguments: ["\"true\"", "yes please", "1", "[true]"])
    func onlyABooleanIsTaken(text: String) throws {
        let problems = try Fixture.diagnostics("mcp:\n  allow_apply: \(text)\n")
        let problem = try #require(problems.first, "no diagnostic for \(text)")
        #expect(problem.field == "mcp.allow_apply", "\(problems)")
        #expect(problem.location.line == 2)
    }

    @Test func anUnknownKeyIsNamed() throws {
        let problems = try Fixture.diagnostics("mcp:\n  allow_force: true\n")
        #expect(problems.contains { $0.message.contains("allow_force") }, "\(problems)")
    }

    @Test func aLaterLayerWins() throws {
        let profile = try Fixture.parse(
            "presets: [p]\nmcp:\n  allow_apply: false\n", user: [(name: "p", path: "/p/p.yaml", yaml: "mcp:\n  allow_apply: true\n")])
        #expect(profile.mcp.allowApply == false)
        let inherited = try Fixture.parse("presets: [p]\n", user: [(name: "p", path: "/p/p.yaml", yaml: "mcp:\n  allow_apply: true\n")])
        #expect(inherited.mcp.allowApply)
    }
}
