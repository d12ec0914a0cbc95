import CordonTestSupport
import Foundation
import Glibc
import Testing

/// The home's secrets stay masked beneath a workspace or mount however the home or the mounted
/// directory is spelled: through a symlink the text of the paths no longer matches, the real
/// paths do.
@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"), .timeLimit(.minutes(5)))
struct SymlinkedMaskTests {
    /// `outer/me` is the home, with a key; `link` points at `outer`.
    func makeHome(_ h: SandboxHarness) throws -> (outer: String, link: String) {
        let outer = h.root + "/outer"
        try h.write(".ssh/id_rsa", "PRIVATE KEY\n", in: outer + "/me")
        try h.write("project/readme", "hello\n", in: outer)
        try FileManager.default.createSymbolicLink(atPath: h.root + "/link", withDestinationPath: outer)
        return (outer, h.root + "/link")
    }

    @Test func aHomeSpelledThroughASymlinkKeepsItsKeysMaskedInTheWorkspace() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let (outer, link) = try makeHome(h)
        let r = try await SandboxHarness.run(
            [
                SandboxHarness.cordon, "run", "--name", "w", "--workspace", outer, "--", "/bin/sh", "-c",
                "cat /workspace/project/readme; cat /workspace/me/.ssh/id_rsa 2>&1 | grep -c KEY; true",
            ],
            environment: h.environment(extra: ["HOME": link + "/me"]))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "hello\n0\n", "\(r.stdout)")
    }

    @Test func aMountThroughASymlinkKeepsTheHomesKeysMasked() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let (outer, link) = try makeHome(h)
        try h.write("profile.yaml", "name: m\nmounts:\n  - {host: \(link), sandbox: /outer}\n", in: h.root)
        let r = try await SandboxHarness.run(
            [
                SandboxHarness.cordon, "run", "--name", "m", "--profile", h.root + "/profile.yaml", "--workspace", h.workspace, "--", "/bin/sh", "-c",
                "cat /outer/project/readme; cat /outer/me/.ssh/id_rsa 2>&1 | grep -c KEY; true",
            ],
            environment: h.environment(extra: ["HOME": outer + "/me"]))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "hello\n0\n", "\(r.stdout)")
    }
}
