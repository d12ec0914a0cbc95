import CordonCore
public import CordonIsolation
import Glibc

/// What the host knows about a command path the sandbox did not find: a path that exists here
/// but not inside (host `/tmp`, a directory the profile does not mount, a relative path meant
/// from the user's current directory) gets a hint saying why the sandbox does not show it and
/// how to share it. The host is only asked whether the path exists (`lstat`, nothing opened or
/// followed at its end); everything shown is escaped.
public struct LaunchHint: Sendable {
    /// The host directory mounted at /workspace.
    public var workspace: String
    /// The user's current directory when cordon started.
    public var currentDirectory: String
    /// The profile's mounts (host → sandbox).
    public var mounts: [(host: String, sandbox: String)]

    public init(workspace: String, currentDirectory: String, mounts: [(host: String, sandbox: String)]) {
        self.workspace = workspace
        self.currentDirectory = currentDirectory
        self.mounts = mounts
    }

    /// The message for `failure`: init's reason, and the hint when the host has the path.
    public func message(_ failure: LaunchFailure) -> String {
        var text = "cordon: \(TerminalText.escaped(failure.message))"
        if let hint = hint(failure) { text += "\ncordon: \(TerminalText.escaped(hint))" }
        return text
    }

    /// Why a path the sandbox lacks but the host has is not visible, and how to share it.
    public func hint(_ failure: LaunchFailure) -> String? {
        let command = failure.command
        guard failure.status == LaunchFailure.notFound, command.contains("/") else { return nil }
        let workspacePath = PlanBuilder.workspacePath
        if !command.hasPrefix("/") {
            let fromHere = Self.lexical(currentDirectory + "/" + command)
            guard !currentDirectory.isEmpty, currentDirectory != workspace, Self.exists(fromHere) else { return nil }
            return "\(command) is relative to the sandbox's working directory \(workspacePath) (the host's \(workspace)), "
                + "not to your current directory \(currentDirectory), where it exists; "
                + (CordonPaths.isWithin(fromHere, workspace)
                    ? "run it as \(workspacePath)/\(Self.relative(fromHere, to: workspace))"
                    : "run cordon from the directory that holds it, or pass --workspace DIR")
        }
        let path = Self.lexical(command)
        guard Self.exists(path) else { return nil }
        if CordonPaths.isWithin(path, workspace) {
            let inside = path == workspace ? workspacePath : "\(workspacePath)/\(Self.relative(path, to: workspace))"
            return "\(path) exists on this host inside the workspace, which the sandbox shows at \(workspacePath): run it as \(inside)"
        }
        for mount in mounts where CordonPaths.isWithin(path, mount.host) {
            let inside = path == mount.host ? mount.sandbox : mount.sandbox + "/" + Self.relative(path, to: mount.host)
            return "\(path) exists on this host; the profile mounts \(mount.host) at \(mount.sandbox): run it as \(inside)"
        }
        let own =
            ["/tmp", "/var/tmp", "/home", "/root", "/run", "/dev/shm"].first { CordonPaths.isWithin(path, $0) }
            .map { " (the sandbox has its own, empty \($0))" } ?? ""
        return "\(path) exists on this host but not in the sandbox, which shows the workspace at \(workspacePath), "
            + "the profile's mounts and a read-only system\(own); to share it, put it in the workspace (\(workspace)) "
            + "and run it as \(workspacePath)/…, or add its directory to the profile's mounts "
            + "(mounts: [{host: DIR, sandbox: DIR}]), or pass --workspace DIR"
    }

    /// Whether the host has an entry at `path` (a symlink at its end is not followed).
    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// `path` with `.`, `..` and repeated slashes resolved as text (no symlink is followed).
    static func lexical(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    static func relative(_ path: String, to directory: String) -> String {
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }
}
