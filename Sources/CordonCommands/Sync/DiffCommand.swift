import ArgumentParser
import CordonCore
import CordonFS
import CordonOS

/// `cordon diff NAME`: what a sandbox changed in its workspace, from the overlay's upper layer.
struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show what a sandbox changed in its workspace (added, modified, deleted), without applying anything.",
        discussion: """
            Reads the sandbox's overlay upper layer against the host workspace. A rename shows as a \
            deletion plus an addition. Letters: A added, M modified, T mode changed, D deleted, \
            R directory replaced (opaque).
            """
    )

    @OptionGroup var sandbox: SandboxSelection

    @Flag(help: "Print JSON: {version, sandbox, workspace, changes: [{path, kind, type, size, mode, …}], summary}.")
    var json = false

    @Flag(help: "Print a per-file size summary (like git diff --stat).")
    var stat = false

    @Flag(help: "Print a unified diff for each changed text file (binaries are skipped).")
    var patch = false

    /// `--json`: docs/json.md, "cordon diff".
    struct Report: Encodable {
        var version = JSONOutput.version
        var sandbox: String
        var workspace: String
        var changes: [Change]
        var summary: ChangeSet.Summary
    }

    func run() throws {
        let name = sandbox.name
        let loaded: SandboxChanges
        do { loaded = try SandboxChanges.load(name: name, layout: sandbox.layout()) } catch {
            Console.error(error)
            throw ExitCode(2)
        }
        let set = loaded.changeSet
        if json {
            try JSONOutput.print(Report(sandbox: name, workspace: loaded.record.workspace, changes: set.changes, summary: set.summary))
            return
        }
        if set.isEmpty {
            print("\(name): no changes")
            return
        }
        for change in set.changes {
            print(Self.line(change, stat: stat))
        }
        let s = set.summary
        print(
            "\(s.added) added, \(s.modified) modified, \(s.modeChanged) mode changes, \(s.deleted) deleted, "
                + "\(s.dirsAdded) dirs added, \(s.dirsRemoved) dirs removed (+\(formatSize(s.bytesAdded)) -\(formatSize(s.bytesRemoved)))")
        if patch {
            for change in set.changes where change.type == .file && (change.kind == .added || change.kind == .modified || change.kind == .deleted) {
                print(Self.patch(change, set: set), terminator: "")
            }
        }
    }

    static func line(_ change: Change, stat: Bool) -> String {
        // Names and targets are the agent's: escaped, so they cannot move the cursor or read backwards.
        var text = "\(change.kind.letter) \(TerminalText.escaped(change.path))"
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

    static func patch(_ change: Change, set: ChangeSet) -> String {
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
        let shown = TerminalText.escaped(change.path)
        guard let old, let new else { return "Binary files differ: \(shown)\n" }
        return TerminalText.escapedContent(
            TextDiff.unified(
                old: old, new: new, oldName: change.kind == .added ? "/dev/null" : "a/" + shown,
                newName: change.kind == .deleted ? "/dev/null" : "b/" + shown))
    }
}
