/// A setting that is valid but hands the agent the host: `cordon config validate` says so loudly
/// without failing (the user may mean it).
public struct ProfileWarning: Sendable, Equatable, CustomStringConvertible {
    /// The field in profile terms, e.g. `mounts[1]` or `network`.
    public var field: String
    /// What the setting hands the agent, in one sentence.
    public var message: String
    /// A narrower setting that does the job, shown after `fix:`.
    public var hint: String

    public var description: String { "\(field): \(message)\n  fix: \(hint)" }
}

extension Profile {
    /// What the profile opens that the agent could use against the host: a read-write mount of
    /// `/`, of the home directory or of a directory above it, or of a home directory's start-up
    /// or credential place (`~/.ssh`, `~/.config`, …) (also the workspace in `unsafe` mode), and
    /// the host's network. `resolve` maps a host path to its real path (symlinks
    /// followed) where it exists; both forms are compared.
    public func riskWarnings(homeDirectory: String, resolve: (String) -> String = { $0 }) -> [ProfileWarning] {
        var warnings: [ProfileWarning] = []
        let homes = Set([homeDirectory, resolve(homeDirectory)].map(Self.lexical))
        func exposed(_ hostPath: String) -> String? {
            for path in Set([hostPath, resolve(hostPath)].map(Self.lexical)) {
                if path == "/" { return "the whole host file system (/)" }
                for home in homes where home == path || home.hasPrefix(path + "/") {
                    return home == path ? "your home directory (\(home))" : "\(path), which holds your home directory (\(home))"
                }
                for home in homes {
                    for name in Self.homeStartupAndCredentials where path == home + "/" + name || path.hasPrefix(home + "/" + name + "/") {
                        return "\(path), where your login, shell and tools read start-up files or credentials (~/\(name))"
                    }
                }
            }
            return nil
        }
        for (index, mount) in mounts.enumerated() where mount.mode == .rw {
            if let what = exposed(mount.host) {
                warnings.append(
                    ProfileWarning(
                        field: "mounts[\(index)]",
                        message: "mounts \(what) read-write: the agent can change your shell start-up files, ssh keys and every project",
                        hint: "mount a narrower directory, or use mode: ro or mode: overlay"))
            }
        }
        if mode == .unsafe, let workspace, let what = exposed(workspace) {
            warnings.append(
                ProfileWarning(
                    field: "workspace", message: "mode: unsafe binds \(what) read-write as the workspace",
                    hint: "use a project directory as the workspace, or mode: secure"))
        }
        if network == .host {
            warnings.append(
                ProfileWarning(
                    field: "network",
                    message: "network: host gives the agent the host's network: no egress policy, the host's loopback services and local network",
                    hint: "use network: proxy with egress.domains, or network: none"))
        }
        return warnings
    }

    /// Places in a home directory whose files the host runs or trusts: a read-write mount of one
    /// (or of something inside it) hands the agent the user's next login or credentials.
    static let homeStartupAndCredentials = [
        ".ssh", ".gnupg", ".aws", ".kube", ".docker", ".config", ".local", ".bashrc", ".bash_profile", ".profile", ".zshrc", ".zshenv",
        ".zprofile", ".gitconfig", ".npmrc", ".pypirc", ".netrc", ".cargo", ".vim", ".emacs.d",
    ]

    /// `path` with `.`, `..`, repeated and trailing slashes resolved lexically.
    static func lexical(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }
}
