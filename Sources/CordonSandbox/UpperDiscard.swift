public import CordonCore
import CordonFS
import CordonOS
import Glibc

/// `cordon discard`: drops changes from a stopped sandbox's upper layers, all of them or the
/// entries at some workspace paths, so the user can throw away one flagged file and sync the rest.
///
/// Removing an upper entry restores the lower (host) view of its path: a file or directory the
/// agent added disappears, a modified file is the host's again, a whiteout (a deletion) or an
/// opaque directory (a directory replaced) stops hiding the host's. Only while the sandbox is
/// stopped: what overlayfs does when its upper changes under a mounted overlay is undefined.
public enum UpperDiscard {
    public struct Dropped: Sendable, Equatable {
        /// The workspace-relative paths dropped (empty: every change was).
        public var paths: [String]
        /// Every change: how many there were, as `cordon diff` counts them (nil: uncountable).
        public var changes: Int?
    }

    /// Drops every change (`paths` empty) or the entries at `paths`.
    public static func discard(name: String, layout: SandboxLayout, paths: [String]) throws(CordonError) -> Dropped {
        let record = try layout.loadRecord()
        guard record.mode != "unsafe" || !record.overlayMounts.isEmpty else {
            throw CordonError(
                .unsupported, "sandbox \(name) runs in unsafe mode: its writes went straight to \(record.workspace)", hint: "there is no upper layer to discard"
            )
        }
        guard let lock = try SandboxLayout.lockNow(layout.lock, exclusive: true) else {
            throw CordonError(
                .alreadyExists, "sandbox \(name) is running: its upper layer is not changed under the mounted overlay",
                hint: "stop it first (`cordon down \(name)`, or end its `cordon run`), then discard")
        }
        defer { close(lock) }
        guard let sync = try SandboxLayout.lockNow(layout.syncLock, exclusive: true) else {
            throw CordonError(.alreadyExists, "a sync of sandbox \(name) is in progress", hint: "run the command again when it has finished")
        }
        defer { close(sync) }
        if paths.isEmpty {
            let status = SandboxStatus.read(name: name, layout: layout, entryLimit: nil, lockedByCaller: true)
            for (upper, _) in status.upperLayers { try AnchoredDirectory.removeContents(of: upper) }
            return Dropped(paths: [], changes: status.changes)
        }
        guard record.mode != "unsafe" else {
            throw CordonError(
                .unsupported, "sandbox \(name) runs in unsafe mode: its workspace has no upper layer",
                hint: "discard without paths drops its overlay mounts' changes")
        }
        let relatives = try paths.map { (path: String) throws(CordonError) in try relative(path, workspace: record.workspace) }
        let tree = try AnchoredDirectory(layout.upper)
        // Checked first, removed after: a wrong path drops nothing.
        for (path, rel) in zip(paths, relatives) {
            if let problem = try check(rel, in: tree, lower: record.workspace) {
                throw CordonError(.invalidArgument, "cannot discard \(path): \(problem.message)", hint: problem.hint)
            }
        }
        for rel in relatives { try tree.removeTree(rel) }
        return Dropped(paths: relatives, changes: nil)
    }

    /// `path` as a path relative to the workspace: relative as given, or absolute beneath the
    /// workspace (its host path or `/workspace`). Refuses what leaves the workspace.
    static func relative(_ path: String, workspace: String) throws(CordonError) -> String {
        var rest = Substring(path)
        if let root = [workspace, "/workspace"].first(where: { rest == Substring($0) || rest.hasPrefix($0 + "/") }) {
            rest = rest.dropFirst(root.count)
        } else if rest.hasPrefix("/") {
            throw CordonError(.invalidArgument, "\(path) is outside the workspace \(workspace)", hint: "give a path relative to the workspace")
        }
        var parts: [Substring] = []
        for part in rest.split(separator: "/") where part != "." {
            if part == ".." { throw CordonError(.invalidArgument, "\(path) leaves the workspace (..)", hint: "give a path inside the workspace") }
            parts.append(part)
        }
        guard !parts.isEmpty else {
            throw CordonError(.invalidArgument, "\(path) is the whole workspace", hint: "to drop every change, run `cordon discard NAME` without paths")
        }
        return parts.joined(separator: "/")
    }

    /// Why the upper entry at `rel` cannot be dropped on its own (nil: it can).
    static func check(_ rel: String, in tree: AnchoredDirectory, lower: String) throws(CordonError) -> (message: String, hint: String)? {
        // Beneath a directory the agent replaced, the host's entry stays hidden without the
        // upper one: dropping it would delete the path, not restore it.
        var prefix = ""
        for part in rel.split(separator: "/").dropLast() {
            prefix += prefix.isEmpty ? String(part) : "/" + part
            guard let st = tree.lstat(prefix) else { break }
            guard st.st_mode & S_IFMT == S_IFDIR else {
                return ("\(prefix) is not a directory in the sandbox (a file, or a link the agent made)", "discard \(prefix) instead")
            }
            if ChangeSet.isOpaque(path: tree.root + "/" + prefix) {
                return ("\(prefix) replaced the host's directory as a whole", "discard \(prefix) to restore the host's directory")
            }
        }
        guard tree.exists(rel) else { return ("the sandbox did not change it", "see `cordon diff` for what it changed") }
        return nil
    }
}
