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

    @Test func theExecCapDefaultsToTenMinutesAndIsADuration() throws {
        #expect(try Fixture.parse("name: plain\n").mcp.maxExecTimeout == 600)
        let profile = try Fixture.parse("mcp:\n  max_exec_timeout: 90s\n")
        #expect(profile.mcp.maxExecTimeout == 90)
        #expect(ProfileRenderer.json(profile).contains("\"max_exec_timeout\": 90"), "\(ProfileRenderer.json(profile))")
        #expect(ProfileRenderer.yaml(profile, minimal: true).contains("max_exec_timeout: 90s"))
        #expect(!ProfileRenderer.yaml(.defaults, minimal: true).contains("max_exec_timeout"))
        #expect(try Fixture.parse("mcp:\n  max_exec_timeout: 2h\n").mcp.maxExecTimeout == 7200)
    }

    @Test(arguments: ["0", "500ms", "25h", "forever", "-5s", "[1]"])
    func anExecCapOutsideASecondToADayIsRefused(text: String) throws {
        let problems = try Fixture.diagnostics("mcp:\n  max_exec_timeout: \(text)\n")
        let problem = try #require(problems.first, "no diagnostic for \(text)")
        #expect(problem.field == "mcp.max_exec_timeout", "\(problems)")
        #expect(problem.location.line == 2)
    }
}
