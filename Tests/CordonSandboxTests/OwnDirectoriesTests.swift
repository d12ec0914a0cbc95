import CordonCore
import CordonTestSupport
import Foundation
import Glibc
import Testing

/// A workspace or mount that contains cordon's state or config directory (other sandboxes'
/// upper layers and control sockets; profiles, approvals, trusted profiles), or lies inside one,
/// is refused before anything of the sandbox's starts, however the paths are spelled.
@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"), .timeLimit(.minutes(5)))
struct OwnDirectoriesTests {
    enum Spelling: String, CaseIterable, Sendable {
        /// `cordon run` from a directory above the state dir (as from $HOME).
        case workspaceContainsState
        /// The config dir beneath the workspace.
        case workspaceContainsConfig
        /// The workspace given through a symlink to a directory that contains the state dir.
        case symlinkedWorkspaceContainsState
        /// XDG_STATE_HOME spelled with `..`, the workspace inside it.
        case workspaceInsideDottedState
        /// XDG_STATE_HOME through a symlink; the workspace is the link's real target's parent.
        case stateThroughSymlink
        /// An extra mount of a directory that contains the state dir.
        case mountContainsState
    }

    @Test(arguments: Spelling.allCases)
    func aWorkspaceOrMountOverCordonsOwnDirectoriesIsRefused(_ spelling: Spelling) async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let fm = FileManager.default
        let base = h.root + "/base"
        try fm.createDirectory(atPath: base + "/project", withIntermediateDirectories: true)
        var env: [String: String] = [:]
        var workspace = base
        var options: [String] = []
        let stateDirectory: String
        switch spelling {
        case .workspaceContainsState:
            env["XDG_STATE_HOME"] = base + "/.local/state"
            stateDirectory = base + "/.local/state/cordon"
        case .workspaceContainsConfig:
            env["XDG_CONFIG_HOME"] = base + "/project/.config"
            try fm.createDirectory(atPath: base + "/project/.config/cordon", withIntermediateDirectories: true)
            workspace = base + "/project"
            stateDirectory = h.state + "/cordon"
        case .symlinkedWorkspaceContainsState:
            env["XDG_STATE_HOME"] = base + "/state"
            try fm.createSymbolicLink(atPath: h.root + "/link", withDestinationPath: base)
            workspace = h.root + "/link"
            stateDirectory = base + "/state/cordon"
        case .workspaceInsideDottedState:
            env["XDG_STATE_HOME"] = base + "/project/../state"
            workspace = base + "/state/cordon/sandboxes"
            try fm.createDirectory(atPath: workspace, withIntermediateDirectories: true)
            stateDirectory = base + "/state/cordon"
        case .stateThroughSymlink:
            try fm.createDirectory(atPath: base + "/real-state", withIntermediateDirectories: true)
            try fm.createSymbolicLink(atPath: h.root + "/state-link", withDestinationPath: base + "/real-state")
            env["XDG_STATE_HOME"] = h.root + "/state-link"
            stateDirectory = base + "/real-state/cordon"
        case .mountContainsState:
            env["XDG_STATE_HOME"] = base + "/state"
            try h.write("profile.yaml", "name: wide\nmounts:\n  - {host: \(base), sandbox: /wide}\n", in: h.root)
            workspace = base + "/project"
            options = ["--profile", h.root + "/profile.yaml"]
            stateDirectory = base + "/state/cordon"
        }
        let r = try await h.cordon(
            ["run", "--name", "own", "--workspace", workspace] + options + ["--", "/bin/sh", "-c", "echo ran"],
            extraEnvironment: env)
        #expect(r.status == 125, "\(r.stdout) \(r.stderr)")
        #expect(!r.stdout.contains("ran"))
        #expect(r.stderr.contains("cordon's state directory") || r.stderr.contains("cordon's config directory"), "\(r.stderr)")
        #expect(r.stderr.contains("XDG_STATE_HOME") || r.stderr.contains("XDG_CONFIG_HOME"), "the message says how to move it: \(r.stderr)")
        #expect(!fm.fileExists(atPath: stateDirectory + "/sandboxes/own"), "no state was made for the sandbox")
    }

    @Test func aProjectBesideTheStateDirectoryStillRuns() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let r = try await h.sandbox("echo ran", name: "beside")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "ran\n")
    }

    /// What a mount point shows is what counts, not where it is: a bind mount of cordon's config
    /// or state directory made beneath a mounted directory (or an unsafe-mode workspace) would
    /// reach the agent through the recursive bind. Needs root to make the host mount.
    @Test(.enabled(if: SandboxHarness.isRoot, "making a host bind mount needs root"), arguments: ["mount", "unsafe"])
    func aMountPointShowingCordonsOwnDirectoryIsRefused(_ kind: String) async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let fm = FileManager.default
        let project = h.root + "/proj"
        try fm.createDirectory(atPath: project + "/inner", withIntermediateDirectories: true)
        let config = h.root + "/xdg-config"
        try fm.createDirectory(atPath: config + "/cordon", withIntermediateDirectories: true)
        try h.write("trusted-profiles", "", in: config + "/cordon")
        let workspace: String
        if kind == "mount" {
            try h.write("profile.yaml", "name: sub\nmounts:\n  - {host: \(project), sandbox: /data, mode: rw}\n", in: h.root)
            workspace = h.workspace
        } else {
            try h.write("profile.yaml", "name: sub\nmode: unsafe\n", in: h.root)
            workspace = project
        }
        // The bind mount is made in a mount namespace of cordon's own (private), so the test
        // process's mount table, which other suites compare, stays as it was.
        let script = "mount --bind \"$1\" \"$2\" && shift 2 && exec \"$@\""
        let r = try await SandboxHarness.run(
            [
                "/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh", config, project + "/inner", SandboxHarness.cordon,
                "run", "--name", "sub", "--workspace", workspace, "--profile", h.root + "/profile.yaml", "--", "/bin/sh", "-c",
                "echo agent >> /data/inner/cordon/trusted-profiles; echo agent >> /workspace/inner/cordon/trusted-profiles; echo ran",
            ],
            environment: h.environment(extra: ["XDG_CONFIG_HOME": config]), directory: h.workspace)
        #expect(r.status == 125, "\(r.stdout) \(r.stderr)")
        #expect(!r.stdout.contains("ran"))
        #expect(r.stderr.contains("through the mount at \(project)/inner"), "\(r.stderr)")
        #expect(r.stderr.contains("cordon's config directory"), "\(r.stderr)")
        let store = try String(contentsOfFile: config + "/cordon/trusted-profiles", encoding: .utf8)
        #expect(!store.contains("agent"), "the agent wrote cordon's trust store")
    }

    /// `copy:` may not take files from cordon's own directories either.
    @Test func aCopyFromCordonsConfigDirectoryIsRefused() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let config = h.root + "/xdg-config"
        try FileManager.default.createDirectory(atPath: config + "/cordon", withIntermediateDirectories: true)
        try h.write("trusted-profiles", "secret-ish\n", in: config + "/cordon")
        try h.write("profile.yaml", "name: cp\ncopy:\n  - {host: \(config)/cordon/trusted-profiles, sandbox: /tmp/t}\n", in: h.root)
        let r = try await h.cordon(
            ["run", "--name", "cp", "--workspace", h.workspace, "--profile", h.root + "/profile.yaml", "--", "/bin/sh", "-c", "cat /tmp/t; echo ran"],
            extraEnvironment: ["XDG_CONFIG_HOME": config])
        #expect(r.status == 125, "\(r.stdout) \(r.stderr)")
        #expect(!r.stdout.contains("secret-ish"))
        #expect(r.stderr.contains("the copy of"), "\(r.stderr)")
    }
}
