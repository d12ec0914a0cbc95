import CordonTestSupport
import Foundation
import Testing

/// `cordon config validate` on a profile that hands the agent the host: valid (exit 0), and
/// loud about it on stderr and in --json.
@Suite(.timeLimit(.minutes(5))) struct ConfigValidateWarningTests {
    @Test func dangerousSettingsAreWarnedAboutWithoutFailing() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("p.yaml", "network: host\nmounts:\n  - {host: /, sandbox: /host, mode: rw}\n  - {host: '~', sandbox: /me, mode: rw}\n", in: h.root)
        let text = try await h.cordon(["config", "validate", h.root + "/p.yaml"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("valid"))
        #expect(text.stderr.contains("warning: \(h.root)/p.yaml: mounts[0]: mounts the whole host file system (/) read-write"), "\(text.stderr)")
        #expect(text.stderr.contains("mounts[1]: mounts your home directory"), "\(text.stderr)")
        #expect(text.stderr.contains("network: network: host"), "\(text.stderr)")

        let json = try await h.cordon(["config", "validate", "--json", h.root + "/p.yaml"])
        #expect(json.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let warnings = try #require(object["warnings"] as? [[String: Any]])
        #expect(warnings.compactMap { $0["field"] as? String } == ["mounts[0]", "mounts[1]", "network"])
        #expect(json.stderr.contains("warning:"))

        try h.write("ok.yaml", "mounts:\n  - {host: ~/data, sandbox: /data, mode: rw}\n", in: h.root)
        let quiet = try await h.cordon(["config", "validate", h.root + "/ok.yaml"])
        #expect(quiet.status == 0)
        #expect(!quiet.stderr.contains("warning"))
    }

    /// `config validate|compile NAME` resolve a profile as `cordon run --profile` does: a name in
    /// the profiles directory, the built-in `default`, and a file as before (one without an
    /// extension in the current directory too); a name that is nothing says what to do, exit 2.
    @Test func validateAndCompileTakeProfileNamesAsRunDoes() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("cordon/profiles/team.yaml", "name: team\negress:\n  domains: [api.example.com]\n", in: h.root + "/config")
        let named = try await h.cordon(["config", "validate", "team"])
        #expect(named.status == 0 && named.stdout.contains("team: valid"), "\(named.stdout) \(named.stderr)")
        let compiled = try await h.cordon(["config", "compile", "team"])
        #expect(compiled.status == 0 && compiled.stdout.contains("api.example.com"), "\(compiled.stdout) \(compiled.stderr)")
        let builtin = try await h.cordon(["config", "compile", "--json", "default"])
        #expect(builtin.status == 0 && builtin.stdout.contains("\"name\""), "\(builtin.stderr)")
        let unknown = try await h.cordon(["config", "validate", "nosuch"])
        #expect(unknown.status == 2 && unknown.stderr.contains("no profile named \"nosuch\""), "\(unknown.stderr)")
        try h.write("plainfile", "name: plain\nmode: bogus\n")
        let file = try await h.cordon(["config", "validate", "plainfile"])
        #expect(file.status == 1 && file.stderr.contains("plainfile:2:7"), "\(file.stderr)")
    }

    /// `secrets` give the sandbox a placeholder: a run says which variables hold one and where the
    /// proxy puts the value.
    @Test func aRunWithSecretsSaysWhereTheValueGoes() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("s.yaml", "name: s\nsecrets:\n  - {name: gh, env: GITHUB_TOKEN, domains: [api.github.com]}\n", in: h.root)
        let stored = try await h.cordon(["secrets", "set", "gh", "--stdin"], stdin: "github_pat_" + "11AAAAAAA0test")
        #expect(stored.status == 0, "\(stored.stderr)")
        let r = try await h.cordon([
            "run", "--profile", h.root + "/s.yaml", "--workspace", h.workspace, "--name", "s", "--", "/bin/sh", "-c", "echo ${GITHUB_TOKEN:-unset}",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("cordon-ph-"), "\(r.stdout)")
        #expect(r.stderr.contains("the proxy puts the value into requests to api.github.com only"), "\(r.stderr)")
        #expect(r.stderr.contains("GITHUB_TOKEN"))
    }
}
