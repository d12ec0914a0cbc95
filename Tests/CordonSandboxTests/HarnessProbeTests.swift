import CordonTestSupport
import Foundation
import Glibc
import Testing

/// The probes that decide whether whole suites run: a probe broken by the harness (a timeout, a
/// refusal swallowed by its `try?`) would skip every sandbox test and still report a green run.
@Suite struct HarnessProbeTests {
    @Test func theNamespaceProbeAgreesWithAFreshLookOnAThreadOfItsOwn() async throws {
        let fresh = try await SandboxHarness.run(["/usr/bin/unshare", "-Urmpf", "--mount-proc", "true"], environment: nil, timeout: 60)
        #expect(SandboxHarness.namespacesAvailable == (fresh.status == 0), "\(fresh.stderr)")
        // As root (CI, this machine) the namespaces are there: the sandbox suites must run.
        if getuid() == 0 { #expect(SandboxHarness.namespacesAvailable, "root cannot create namespaces here: \(fresh.stderr)") }
    }
}
