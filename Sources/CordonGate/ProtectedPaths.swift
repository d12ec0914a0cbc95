public import CordonCore

#if canImport(Glibc)
    import Glibc
#endif

/// A workspace path that shapes the sandbox's own policy (the profile in use, a file it names,
/// cordon's config or state): no sync ever changes it, in any mode, with any flag.
public struct ProtectedPath: Sendable, Equatable, Codable {
    /// Workspace-relative, `/`-separated.
    public var path: String
    /// What it is, for the finding: "the profile this sandbox runs with".
    public var what: String

    /// The host files and directories behind a sandbox's policy that lie inside `workspace`, as
    /// workspace-relative paths; both sides compared after resolving symlinks on the host.
    /// `files`: absolute path → what it is.
    public static func inside(workspace: String, files: [(path: String, what: String)]) -> [ProtectedPath] {
        let root = resolved(workspace)
        var result: [ProtectedPath] = []
        for (path, what) in files where path.hasPrefix("/") {
            let real = resolved(path)
            if real == root {
                result.append(ProtectedPath(path: "", what: what))
            } else if real.hasPrefix(root == "/" ? "/" : root + "/") {
                result.append(ProtectedPath(path: String(real.dropFirst(root == "/" ? 1 : root.count + 1)), what: what))
            }
        }
        return result
    }

    /// The files and directories of cordon's own that a sync never touches, with the sandbox's
    /// policy files (`record.policyFiles`), relative to `root` (the workspace when nil; an overlay
    /// mount's host directory for its changes).
    public static func forSandbox(record: SandboxRecord, paths: CordonPaths, root: String? = nil) -> [ProtectedPath] {
        var files: [(path: String, what: String)] = [
            (paths.configHome, "cordon's configuration directory (profiles, presets, approvals)"),
            (paths.stateHome, "cordon's state directory (sandboxes, their upper layers and control sockets)"),
        ]
        files += record.policyFiles.map { ($0, "a file that shapes this sandbox's policy (its profile, or a file the profile names)") }
        return inside(workspace: root ?? record.workspace, files: files)
    }

    /// `path` with every symlink on the host resolved; the longest existing prefix is resolved and
    /// the rest appended, so a file that does not exist yet still compares right.
    static func resolved(_ path: String) -> String {
        var head = path
        var tail: [Substring] = []
        while true {
            if let real = realpath(head, nil) {
                defer { free(real) }
                let base = String(cString: real)
                return tail.isEmpty ? base : (base == "/" ? "" : base) + "/" + tail.reversed().joined(separator: "/")
            }
            guard let slash = head.lastIndex(of: "/"), head != "/" else { return path }
            tail.append(head[head.index(after: slash)...])
            head = slash == head.startIndex ? "/" : String(head[..<slash])
        }
    }
}
