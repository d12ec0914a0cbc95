import CordonConfig
import CordonCore
import CordonIsolation
import CordonSandbox
import Testing

/// The plan the supervisor builds reaches cordon-init whole (the wire format itself is tested in
/// CordonIsolationTests).
struct SandboxPlanWireTests {
    @Test func theDefaultProfilesPlanSurvivesTheTrip() throws {
        let host = HostFacts(uid: 0, gid: 0, home: "/root", systemEntries: ["/usr": .directory], etcFiles: ["/etc/hosts"], environment: ["TERM": "xterm"])
        let plan = PlanBuilder(profile: .defaults, host: host).build(
            .init(
                name: "t", workspace: "/src", command: ["true"], terminal: false, layout: SandboxLayout(directory: "/state/t"),
                dataRoot: "/state/data", rlimitFallback: true))
        #expect(try SandboxPlan(wireBytes: plan.wireBytes()) == plan)
    }
}
