import CordonCore
import CordonPolicy
import FoundationEssentials
import Testing
@testable import CordonConfig

/// `egress.dlp`: off, alert (the default) or block; a bad value named with the choices; merged so
/// that a later layer cannot weaken what an earlier one set; rendered and kept through JSON.
@Suite struct LeakCheckProfileFieldTests {
    @Test func theDefaultIsAlert() throws {
        let profile = try Fixture.parse("name: plain\n")
        #expect(profile.egress.dlp == .alert)
        #expect(!profile.egress.dlpSetting.written)
    }

    @Test(arguments: [("off", LeakCheckMode.off), ("alert", .alert), ("block", .block), ("\"off\"", .off)])
    func everyModeParses(text: String, expected: LeakCheckMode) throws {
        #expect(try Fixture.parse("egress:\n  dlp: \(text)\n").egress.dlp == expected)
    }

    @Test(arguments: ["on", "blocked", "true", "[block]", "Block"])
    func aBadValueNamesTheFieldAndTheChoices(text: String) throws {
        let problems = try Fixture.diagnostics("egress:\n  dlp: \(text)\n")
        let problem = try #require(problems.first, "no diagnostic for \(text)")
        #expect(problem.field == "egress.dlp", "\(problems)")
        #expect(problem.message.contains("off | alert | block"), "\(problem)")
        #expect(problem.location.line == 2)
        #expect(throws: CordonError.self) { try Fixture.parse("egress:\n  dlp: \(text)\n") }
    }

    /// A preset that blocks cannot be turned down by the profile on top of it; one that turns the
    /// check off can be turned up; with no preset saying anything, the profile's own value holds.
    @Test(
        arguments: [
            ("block", "off", LeakCheckMode.block), ("block", "alert", .block), ("off", "block", .block), ("off", "alert", .alert),
            ("alert", "off", .alert), (nil, "off", .off), ("off", nil, .off),
        ] as [(String?, String?, LeakCheckMode)])
    func theStricterLayerWins(preset: String?, profile: String?, expected: LeakCheckMode) throws {
        let presetYAML = preset.map { "egress:\n  dlp: \($0)\n" } ?? "description: nothing about dlp\n"
        let profileYAML = "presets: [p]\n" + (profile.map { "egress:\n  dlp: \($0)\n" } ?? "")
        let merged = try Fixture.parse(profileYAML, user: [("p", "/u/p.yaml", presetYAML)])
        #expect(merged.egress.dlp == expected, "preset \(preset ?? "-"), profile \(profile ?? "-")")
    }

    @Test func theFieldIsRenderedAndKeptThroughJSON() throws {
        let profile = try Fixture.parse("egress:\n  dlp: block\n")
        #expect(ProfileRenderer.json(profile).contains("\"dlp\""))
        #expect(ProfileRenderer.json(try Fixture.parse("name: x\n")).contains("\"alert\""))
        let decoded = try JSONDecoder().decode(EgressConfiguration.self, from: try JSONEncoder().encode(profile.egress))
        #expect(decoded == profile.egress && decoded.dlp == .block)
        // A record written before the field existed decodes to the default.
        let old = try JSONDecoder().decode(EgressConfiguration.self, from: Data("{\"domains\":[]}".utf8))
        #expect(old.dlp == .alert)
        let bad = Data("{\"dlp\":\"maybe\"}".utf8)
        #expect(throws: (any Error).self) { try JSONDecoder().decode(EgressConfiguration.self, from: bad) }
    }
}
