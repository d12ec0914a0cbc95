import CordonConfig
import CordonCore
import CordonIsolation
import CordonSandbox
import Testing

/// A bound secret's variable holds its placeholder in the plan, over anything else of that name.
struct PlanBuilderPlaceholderTests {
    @Test func thePlaceholderWinsOverTheProfilesEnvAndTheHosts() {
        var profile = Profile.defaults
        profile.env = ["OPENAI_API_KEY": "written-in-the-profile", "EDITOR": "vi"]
        var host = PlanBuilderTests.host
        host.environment["OPENAI_API_KEY"] = "from-the-host"
        let placeholder = PlaceholderFormat.prefix + String(repeating: "a", count: PlaceholderFormat.randomLength)
        let plan = PlanBuilder(profile: profile, host: host).build(
            .init(
                name: "t", workspace: "/home/alice/project", command: ["true"], terminal: false, layout: SandboxLayout(directory: "/state/sandboxes/t"),
                dataRoot: "/state/profiles/default/data", rlimitFallback: false, placeholders: ["OPENAI_API_KEY": placeholder]))
        #expect(plan.environment.filter { $0.hasPrefix("OPENAI_API_KEY=") } == ["OPENAI_API_KEY=" + placeholder])
        #expect(plan.environment.contains("EDITOR=vi"))
    }
}
