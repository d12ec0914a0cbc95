import CordonTestSupport
import Foundation
import Glibc
import Testing

/// Through a real `cordon run`: what the agent plants for the host to run is held in yolo mode,
/// and only the locale variables cordon knows, with sane values, reach the agent.
@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"), .timeLimit(.minutes(5)))
struct TrapRunTests {
    @Test func yoloHoldsTrapsOneAndTwoDirectoriesDownAndAppliesNothingWithThem() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("profile.yaml", "name: trap\nmode: yolo\nsync:\n  interval: 1s\n", in: h.root)
        let script = """
            cd /workspace && echo 'print(2)' > main.py && mkdir -p tools/.vscode web/app \
            && echo '{"tasks":[{"command":"sh payload","runOptions":{"runOn":"folderOpen"}}]}' > tools/.vscode/tasks.json \
            && echo 'yarnPath: ./payload.cjs' > web/app/.yarnrc.yml && printf '[toolchain]\\npath = "/tmp/x"\\n' > web/rust-toolchain.toml
            """
        let r = try await h.cordon(["run", "--profile", h.root + "/profile.yaml", "--workspace", h.workspace, "--name", "trap", "--", "/bin/sh", "-c", script])
        #expect(r.status == 0, "\(r.stderr)")
        for path in ["main.py", "tools/.vscode/tasks.json", "web/app/.yarnrc.yml", "web/rust-toolchain.toml"] {
            #expect(!FileManager.default.fileExists(atPath: h.workspace + "/" + path), "\(path) reached the host")
            #expect(FileManager.default.fileExists(atPath: h.state + "/cordon/sandboxes/trap/upper/" + path), "\(path) left the upper")
        }
        #expect(r.stderr.contains("trap-editor") && r.stderr.contains("trap-package-manager") && r.stderr.contains("trap-version-manager"), "\(r.stderr)")
        #expect(r.stderr.contains("review with `cordon sync trap`"), "\(r.stderr)")
    }

    @Test func onlyKnownLocaleVariablesWithSaneValuesReachTheAgent() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let r = try await h.cordon(
            ["run", "--name", "locale", "--workspace", h.workspace, "--", "/bin/sh", "-c", "env | grep -E '^(LANG|LANGUAGE|LC_[A-Z_]+)=' | sort"],
            extraEnvironment: [
                "LANG": "C.UTF-8", "LC_TIME": "en_GB.UTF-8", "LC_EVIL": "C", "LC_SECRET_TOKEN": "hunter2", "LC_ALL": "$(touch /tmp/pwned)",
                "LC_CTYPE": "/tmp/evil",
            ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "LANG=C.UTF-8\nLC_TIME=en_GB.UTF-8\n", "\(r.stdout)")
    }
}
