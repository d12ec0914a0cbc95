import CordonTestSupport
import Foundation
import Glibc
import Testing

/// A repository's own `cordon.yaml` (or one an earlier agent wrote) runs only with the content
/// the user trusted: a new or changed one stops `cordon run` before anything starts, shows what it
/// grants and the command that trusts it; a changed preset or named file asks again.
@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"), .timeLimit(.minutes(5)))
struct ProfileTrustRunTests {
    struct Setup {
        let h: SandboxHarness
        var outside: String { h.root + "/outside" }
        var profile: String { h.workspace + "/cordon.yaml" }
        var preset: String { h.root + "/config/cordon/presets/team.yaml" }
        var blocklist: String { h.workspace + "/blocked.txt" }
        var profileText: String {
            "name: repo\npresets: [team]\nmounts:\n  - {host: \(outside), sandbox: /outside, mode: rw}\negress:\n  blocklists: [blocked.txt]\n"
        }

        init() throws {
            h = try SandboxHarness()
            try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
            try h.write("cordon/presets/team.yaml", "egress:\n  domains: [team.example]\n", in: h.root + "/config")
            try h.write("blocked.txt", "evil.example\n")
            try h.write("cordon.yaml", profileText)
        }

        /// The agent's attempt: write outside the workspace through the profile's rw mount.
        func run(_ name: String) async throws -> SandboxHarness.Result {
            try await h.cordon(["run", "--profile", "cordon.yaml", "--name", name, "--", "/bin/sh", "-c", "echo \(name) > /outside/\(name).txt && echo ran"])
        }

        func expectStopped(_ r: SandboxHarness.Result, _ name: String, changed: Bool, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(r.status == 125, "\(r.stdout) \(r.stderr)", sourceLocation: sourceLocation)
            #expect(!r.stdout.contains("ran"), sourceLocation: sourceLocation)
            #expect(!FileManager.default.fileExists(atPath: outside + "/\(name).txt"), "nothing reached the host", sourceLocation: sourceLocation)
            #expect(!FileManager.default.fileExists(atPath: h.state + "/cordon/sandboxes/\(name)"), "no sandbox was made", sourceLocation: sourceLocation)
            #expect(r.stderr.contains("mounts: \(outside) at /outside, read-write"), "the grant is shown: \(r.stderr)", sourceLocation: sourceLocation)
            #expect(r.stderr.contains("cordon trust \(profile)"), "the command that trusts it: \(r.stderr)", sourceLocation: sourceLocation)
            #expect(r.stderr.contains(changed ? "has changed since you trusted it" : "is not trusted yet"), "\(r.stderr)", sourceLocation: sourceLocation)
        }
    }

    @Test func anUntrustedInWorkspaceProfileStartsNothingUntilTrustedAndAgainAfterAnyEdit() async throws {
        let s = try Setup()
        defer { s.h.cleanup() }
        s.expectStopped(try await s.run("first"), "first", changed: false)

        let trust = try await s.h.cordon(["trust", "cordon.yaml"])
        #expect(trust.status == 0, "\(trust.stderr)")
        #expect(trust.stdout.contains("trusted: \(s.profile)"), "\(trust.stdout)")
        #expect(trust.stdout.contains("egress.domains: team.example"), "the preset's grants are shown: \(trust.stdout)")
        let trusted = try await s.run("trusted")
        #expect(trusted.status == 0, "\(trusted.stderr)")
        #expect(FileManager.default.fileExists(atPath: s.outside + "/trusted.txt"))

        // One byte of the profile, of the preset it names, of the blocklist it names: asked again each time.
        try s.h.write("cordon.yaml", s.profileText.replacingOccurrences(of: "name: repo", with: "name: repp"))
        s.expectStopped(try await s.run("profile"), "profile", changed: true)
        try s.h.write("cordon.yaml", s.profileText)
        #expect(try await s.run("restored").status == 0, "the trusted content runs again")

        try s.h.write("cordon/presets/team.yaml", "egress:\n  domains: [tean.example]\n", in: s.h.root + "/config")
        s.expectStopped(try await s.run("preset"), "preset", changed: true)
        try s.h.write("cordon/presets/team.yaml", "egress:\n  domains: [team.example]\n", in: s.h.root + "/config")

        try s.h.write("blocked.txt", "evil.exampla\n")
        s.expectStopped(try await s.run("blocklist"), "blocklist", changed: true)
        try s.h.write("blocked.txt", "evil.example\n")
        #expect(try await s.run("again").status == 0)
    }

    @Test func trustListsAndRevokes() async throws {
        let s = try Setup()
        defer { s.h.cleanup() }
        #expect(try await s.h.cordon(["trust", s.profile]).status == 0)
        let list = try await s.h.cordon(["trust", "--list", "--json"])
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdout.contains("\"path\": \"\(s.profile)\""), "\(list.stdout)")
        #expect(list.stdout.contains("\"state\": \"current\""), "\(list.stdout)")
        try s.h.write("blocked.txt", "evil.exampla\n")
        let changed = try await s.h.cordon(["trust", "--list"])
        #expect(changed.stdout.contains("changed \(s.profile)"), "a named file's edit shows: \(changed.stdout)")
        try s.h.write("blocked.txt", "evil.example\n")
        #expect(try await s.h.cordon(["trust", "--revoke", "cordon.yaml"]).status == 0)
        s.expectStopped(try await s.run("revoked"), "revoked", changed: false)
    }

    /// `cordon sync --profile` takes the gate's settings from the profile: a repository's profile
    /// swapping in a gitleaks config that matches nothing must not wave a token through.
    @Test func syncWithAnUntrustedInWorkspaceProfileAppliesNothing() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("rules.toml", "title = \"none\"\n[[rules]]\nid = \"nothing\"\nregex = '''zzzz-never-zzzz'''\n")
        try h.write("cordon.yaml", "sync:\n  gitleaks_config: rules.toml\n")
        let token = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
        #expect(try await h.sandbox("echo GITHUB_TOKEN=\(token) > /workspace/leak.txt", name: "leaky").status == 0)
        let r = try await h.cordon(["sync", "leaky", "--auto", "--profile", "cordon.yaml"])
        #expect(r.status == 2, "\(r.stdout) \(r.stderr)")
        #expect(r.stderr.contains("is not trusted yet; nothing was applied"), "\(r.stderr)")
        #expect(r.stderr.contains("sync.gitleaks_config: \(h.workspace)/rules.toml replaces cordon's secret rules"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: h.workspace + "/leak.txt"))
        #expect(try await h.cordon(["trust", "cordon.yaml"]).status == 0)
        let trusted = try await h.cordon(["sync", "leaky", "--auto", "--profile", "cordon.yaml"])
        #expect(trusted.status == 0, "the user's choice, once trusted: \(trusted.stdout) \(trusted.stderr)")
    }

    @Test func aProfileOutsideTheWorkspaceIsTheUsersOwn() async throws {
        let s = try Setup()
        defer { s.h.cleanup() }
        try s.h.write("own.yaml", s.profileText.replacingOccurrences(of: "blocked.txt", with: s.blocklist), in: s.h.root)
        let r = try await s.h.cordon(["run", "--profile", s.h.root + "/own.yaml", "--name", "own", "--", "/bin/sh", "-c", "echo own > /outside/own.txt"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: s.outside + "/own.txt"))
    }
}
