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
}
