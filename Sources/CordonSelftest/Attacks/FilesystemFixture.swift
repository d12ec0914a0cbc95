import Glibc

/// What the filesystem attacks share: one sandbox in secure mode (`selftest-fs`, no network)
/// whose workspace holds a symlink out and a file to overwrite, with a read-only mount of a host
/// directory, and the host canaries they aim at.
struct FilesystemFixture {
    static let sandbox = "selftest-fs"
    /// Where the read-only host directory is mounted inside.
    static let readOnlyMount = "/selftest-ro"

    let workspace: String
    /// A secret in the (stand-in) user's home, not under any masked path.
    let homeSecret: CanaryFile
    /// A secret outside every workspace and mount.
    let hostSecret: CanaryFile
    /// The target of the workspace's symlink out.
    let linkTarget: CanaryFile
    /// In the read-only mount: the remount attack's target.
    let remountTarget: CanaryFile
    /// In the read-only mount: the /proc/self/fd attack's target.
    let descriptorTarget: CanaryFile
    /// The workspace file the secure-mode write aims at.
    let workspaceFile: CanaryFile
    /// The host directory mounted read-only.
    let readOnlyDirectory: String

    /// The fixture, and the sandbox started (once).
    static func get(_ environment: SelftestEnvironment) throws(SelftestFailure) -> FilesystemFixture {
        let fixture = try environment.fixture("filesystem") { (environment) throws(SelftestFailure) -> FilesystemFixture in
            let workspace = try environment.workspace("fs")
            let readOnly = environment.hostDirectory + "/ro"
            let fixture = FilesystemFixture(
                workspace: workspace,
                homeSecret: try CanaryFile(environment, at: environment.home + "/notes/secret.txt"),
                hostSecret: try CanaryFile(environment, at: environment.hostDirectory + "/secret.txt"),
                linkTarget: try CanaryFile(environment, at: environment.hostDirectory + "/link-target.txt"),
                remountTarget: try CanaryFile(environment, at: readOnly + "/remount.txt"),
                descriptorTarget: try CanaryFile(environment, at: readOnly + "/descriptor.txt"),
                workspaceFile: try CanaryFile(environment, at: workspace + "/keep.txt"),
                readOnlyDirectory: readOnly)
            guard symlink(fixture.linkTarget.path, workspace + "/escape-link") == 0 else {
                throw SelftestFailure("cannot make the workspace's symlink out: \(String(cString: strerror(errno)))")
            }
            return fixture
        }
        _ = try environment.shared(sandbox) { (environment) throws(SelftestFailure) in
            let profile = try environment.profile(
                sandbox,
                """
                name: \(sandbox)
                mode: secure
                network: none
                mounts:
                  - {host: "\(fixture.readOnlyDirectory)", sandbox: \(readOnlyMount), mode: ro}
                """)
            try environment.up(sandbox, profile: profile, workspace: fixture.workspace)
        }
        return fixture
    }
}
