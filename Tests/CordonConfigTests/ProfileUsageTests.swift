import CordonCore
import CordonUsage
import Testing

@testable import CordonConfig

/// The `usage` section: providers and budgets parsed, bad values refused naming the field and
/// what to write, merged over presets and rendered back.
@Suite struct ProfileUsageTests {
    @Test func theSectionParsesWithDefaults() throws {
        let profile = try Fixture.parse(
            """
            usage:
              providers: [{name: local, domain: LLM.example.test, path: /v1/, format: anthropic}]
              budgets: [{tokens: 1000000, per: day, provider: openai}, {tokens: 5000, per: total, provider: local}, {tokens: 9, per: month}]
            """)
        #expect(profile.usage.providers == [UsageProvider(name: "local", domain: "llm.example.test", pathPrefix: "/v1/", format: .anthropic)])
        #expect(
            profile.usage.budgets.budgets == [
                Budget(tokens: 1_000_000, per: .day, provider: "openai"), Budget(tokens: 5000, per: .total, provider: "local"), Budget(tokens: 9, per: .month),
            ])
        #expect(profile.usage.budgets.warnAt == 80 && profile.usage.budgets.blockAt == 95)
        #expect(try Fixture.parse("usage:\n  warn_at: 50\n  block_at: 100\n").usage.budgets == BudgetSettings(warnAt: 50, blockAt: 100))
        #expect(Profile.defaults.usage == UsageSettings())
    }

    @Test(arguments: [
        ("usage:\n  warn_at: 0\n", "usage.warn_at", "positive whole number"),
        ("usage:\n  block_at: 101\n", "usage.block_at", "from 1 to 100"),
        ("usage:\n  warn_at: 95\n  block_at: 90\n", "usage.warn_at", "warn first"),
        ("usage:\n  budget: []\n", "usage.budget", "did you mean \"budgets\""),
        ("usage:\n  budgets: [{tokens: 10, per: week}]\n", "usage.budgets[0].per", "use one of: day, month, total"),
        ("usage:\n  budgets: [{tokens: -1, per: day}]\n", "usage.budgets[0].tokens", "write a number"),
        ("usage:\n  budgets: [{per: day}]\n", "usage.budgets[0].tokens", "add `tokens:`"),
        ("usage:\n  budgets: [{tokens: 10, per: day, provider: opnai}]\n", "usage.budgets[0].provider", "did you mean \"openai\""),
        ("usage:\n  budgets: [1000]\n", "usage.budgets[0]", "{tokens: 1000000, per: day}"),
        ("usage:\n  providers: [{name: x, domain: \"*.example.com\", path: /v1/, format: openai}]\n", "usage.providers[0].domain", "host name"),
        ("usage:\n  providers: [{name: x, domain: a.example, path: v1, format: openai}]\n", "usage.providers[0].path", "e.g. /v1/"),
        ("usage:\n  providers: [{name: x, domain: a.example, path: /v1/, format: claude}]\n", "usage.providers[0].format", "openai, anthropic, gemini"),
        ("usage:\n  providers: [{name: x, domain: a.example, path: /v1/}]\n", "usage.providers[0].format", "add `format:`"),
        (
            "usage:\n  providers: [{name: x, domain: a.example, path: /v1/, format: openai}, {name: y, domain: a.example, path: /v1/, format: gemini}]\n",
            "usage.providers[1]", "once"
        ),
    ])
    func aBadValueIsRefusedNamingTheFieldAndTheFix(yaml: String, field: String, hint: String) throws {
        let problems = try Fixture.diagnostics(yaml)
        #expect(problems.first?.field == field, "\(problems)")
        let text = problems.map { "\($0.message) \($0.hint ?? "")" }.joined(separator: "\n")
        #expect(text.contains(hint), "\(text)")
    }

    @Test func aBudgetMayNameAProviderTheSameFileDefines() throws {
        let profile = try Fixture.parse(
            "usage:\n  budgets: [{tokens: 10, per: day, provider: mine}]\n  providers: [{name: mine, domain: a.example, path: /v1/, format: openai}]\n")
        #expect(profile.usage.budgets.budgets.first?.provider == "mine")
    }

    @Test func aProfileTightensAPresetsBudgetAndKeepsItsProviders() throws {
        let preset = """
            usage:
              providers: [{name: local, domain: a.example, path: /v1/, format: openai}]
              budgets: [{tokens: 1000, per: day}, {tokens: 50000, per: month}]
              warn_at: 70
            """
        let profile = try Fixture.parse(
            "presets: [llm]\nusage:\n  budgets: [{tokens: 500, per: day}]\n  block_at: 90\n", user: [(name: "llm", path: "/p/llm.yaml", yaml: preset)])
        #expect(profile.usage.providers.map(\.name) == ["local"])
        #expect(profile.usage.budgets.budgets == [Budget(tokens: 500, per: .day), Budget(tokens: 50000, per: .month)])
        #expect(profile.usage.budgets.warnAt == 70 && profile.usage.budgets.blockAt == 90)
        let rendered = ProfileRenderer.yaml(profile, minimal: true)
        #expect(try Fixture.parse(rendered, user: [(name: "llm", path: "/p/llm.yaml", yaml: preset)]).usage == profile.usage, "\(rendered)")
        #expect(!ProfileRenderer.yaml(Profile.defaults, minimal: true).contains("usage"))
    }
}
