import ArgumentParser
import CordonCore
import CordonFS
import CordonGate
import CordonOS

/// `cordon diff NAME`: what a sandbox changed in its workspace, from the overlay's upper layer.
struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show what a sandbox changed in its workspace and overlay mounts (added, modified, deleted), without applying anything.",
        discussion: """
            Reads the sandbox's overlay upper layers against the host workspace and the host \
            directories of its `mounts` with `mode: overlay`. Workspace paths are relative to it; \
            a mount's start with its path in the sandbox (/data/x). A rename shows as a deletion \
            plus an addition. Letters: A added, M modified, T mode changed, D deleted, R directory \
            replaced (opaque).
            """
    )

    @OptionGroup var sandbox: SandboxSelection

    @Flag(help: "Print JSON: {version, sandbox, workspace, changes: [{path, kind, type, size, mode, …}], summary, mounts: [{mount, host, changes, summary}]}.")
    var json = false

    @Flag(help: "Print a per-file size summary (like git diff --stat).")
    var stat = false

    @Flag(help: "Print a unified diff for each changed text file (binaries are skipped).")
    var patch = false

    /// `--json`: docs/json.md, "cordon diff". `changes` and `summary` are the workspace's; each
    /// overlay mount's are in `mounts`.
    struct Report: Encodable {
        var version = JSONOutput.version
        var sandbox: String
        var workspace: String
        var changes: [Change]
        var summary: ChangeSet.Summary
        var mounts: [MountChanges] = []
    }

    /// The changes under one `mounts[]` entry with `mode: overlay`: paths relative to it.
    struct MountChanges: Encodable {
        /// Where the sandbox sees it (`/data`).
        var mount: String
        /// The host directory they apply to.
        var host: String
        var changes: [Change]
        var summary: ChangeSet.Summary
    }

    func run() throws {
        let name = sandbox.name
        var sets: [(target: SyncTarget, set: ChangeSet)] = []
        let record: SandboxRecord
        do {
            let loaded = try SandboxChanges.load(name: name, layout: sandbox.layout())
            record = loaded.record
            for target in loaded.targets { sets.append((target, try target.changeSet())) }
        } catch {
            Console.error(error)
            throw ExitCode(2)
        }
        if json {
            let workspace = sets.first { $0.target.mount == nil }?.set
            let mounts = sets.compactMap { entry in
                entry.target.mount.map { MountChanges(mount: $0.sandbox, host: $0.host, changes: entry.set.changes, summary: entry.set.summary) }
            }
            try JSONOutput.print(
                Report(
                    sandbox: name, workspace: record.workspace, changes: workspace?.changes ?? [], summary: workspace?.summary ?? .init(),
                    mounts: mounts))
            return
        }
        if sets.allSatisfy({ $0.set.isEmpty }) {
            print("\(name): no changes")
            return
        }
        for (target, set) in sets {
            for change in set.changes {
                print(Self.line(change, stat: stat, shown: target.shown(change.path)))
            }
        }
        let s = sets.map(\.set.summary).reduce(ChangeSet.Summary(), +)
        print(
            "\(s.added) added, \(s.modified) modified, \(counted(s.modeChanged, "mode change")), \(s.deleted) deleted, "
                + "\(counted(s.dirsAdded, "dir")) added, \(counted(s.dirsRemoved, "dir")) removed (+\(formatSize(s.bytesAdded)) -\(formatSize(s.bytesRemoved)))"
        )
        if patch {
            for (target, set) in sets {
                for change in set.changes where change.type == .file && (change.kind == .added || change.kind == .modified || change.kind == .deleted) {
                    print(Self.patch(change, set: set, shown: target.shown(change.path)), terminator: "")
                }
            }
        }
    }

    /// `shown`: the path as printed (an overlay mount's with its sandbox path); `change.path` when nil.
    static func line(_ change: Change, stat: Bool, shown: String? = nil) -> String {
        // Names and targets are the agent's: escaped, so they cannot move the cursor or read backwards.
        var text = "\(change.kind.letter) \(TerminalText.escaped(shown ?? change.path))"
        if change.type == .directory { text += "/" }
        switch change.type {
        case .symlink: text += " -> \(TerminalText.escaped(change.symlinkTarget ?? "?"))"
        case .file:
            if change.kind == .modified, stat, let before = change.lowerSize {
                text += " (\(formatSize(before)) → \(formatSize(change.size)))"
            } else {
                text += " (\(formatSize(change.size)))"
            }
        case .directory: break
        default: text += " (\(change.type.rawValue))"
        }
        if let lower = change.lowerMode, lower != change.mode, change.kind != .deleted {
            text += " mode \(String(lower, radix: 8)) → \(String(change.mode, radix: 8))"
        } else if change.kind == .added, change.flags.executableAdded {
            text += " mode \(String(change.mode, radix: 8))"
        }
        return text
    }

    static func patch(_ change: Change, set: ChangeSet, shown: String? = nil) -> String {
        let limit: UInt64 = 4 * 1024 * 1024
        // Both trees are read beneath their roots, never through a symlink the agent planted.
        func text(_ root: String) -> String? {
            guard change.flags.unsafeName == nil, let tree = try? AnchoredDirectory(root), let bytes = try? tree.read(change.path, limit: limit) else {
                return nil
            }
            if bytes.prefix(8000).contains(0) { return nil }
            return String(decoding: bytes, as: UTF8.self)
        }
        let old = change.kind == .added ? "" : text(set.lower)
        let new = change.kind == .deleted ? "" : text(set.contents)
        // A mount's path is absolute (`/data/x`): `a/` and `b/` go before it without a second slash.
        let name = TerminalText.escaped(shown.map { $0.hasPrefix("/") ? String($0.dropFirst()) : $0 } ?? change.path)
        guard let old, let new else { return "Binary files differ: \(TerminalText.escaped(shown ?? change.path))\n" }
        return TerminalText.escapedContent(
            TextDiff.unified(
                old: old, new: new, oldName: change.kind == .added ? "/dev/null" : "a/" + name,
                newName: change.kind == .deleted ? "/dev/null" : "b/" + name))
    }
}
