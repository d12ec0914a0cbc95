// The invariants a change set holds against the model of what the input made.
import CordonFS
import CordonOS
import FuzzSupport

struct Checks {
    let model: Model
    let fixture: Fixture
    let set: ChangeSet
    /// With a snapshot: a file over `limits.file` may be reported at the size of its copy, cut one
    /// byte past the limit.
    let limits: SnapshotLimits?

    func fail(_ message: String, _ change: Change? = nil) -> String {
        "\(message)\(change.map { "\nchange: \($0)" } ?? "")\n\(model.summary)\nchanges:\n"
            + set.changes.map { "  \($0.kind.rawValue) \($0.path.debugDescription) \($0.type.rawValue) size \($0.size)" }.joined(separator: "\n")
    }

    func run() {
        var made: [String: [Made]] = [:]
        for entry in model.entries { made[entry.path, default: []].append(entry) }
        var seen: Set<String> = []
        var addedDirs: [String: Int] = [:]
        for (index, change) in set.changes.enumerated() {
            let path = change.path
            let parts = path.split(separator: "/", omittingEmptySubsequences: false)
            invariant(!path.isEmpty && !path.hasPrefix("/"), fail("a path that is not relative", change))
            invariant(!parts.contains { $0.isEmpty || $0 == "." || $0 == ".." }, fail("a path with an empty, . or .. component", change))
            let key = (change.kind.isDeletion ? "-" : "+") + path
            // A name that is not UTF-8 is shown escaped (`a\xFF`), which a valid name can spell too;
            // the escaped one is held, and the gate holds by path: both stay on the sandbox side.
            invariant(
                !seen.contains(key) || set.changes.contains { $0.path == path && $0.flags.unsafeName != nil },
                fail("two changes of the same kind name one path", change))
            seen.insert(key)
            // Whatever is added below a directory the change set adds comes after it.
            if change.kind == .dirAdded { addedDirs[path] = index }
            if change.kind.isDeletion {
                checkDeletion(change, made: made)
            } else {
                checkAddition(change, made: made)
                var parent = parts.dropLast()
                while !parent.isEmpty {
                    if let at = addedDirs[parent.joined(separator: "/")] { invariant(at < index, fail("an entry before the directory that holds it", change)) }
                    parent = parent.dropLast()
                }
            }
            if change.kind == .dirRemoved {
                invariant(
                    !set.changes[(index + 1)...].contains { $0.kind.isDeletion && $0.path.hasPrefix(path + "/") },
                    fail("a removed directory before its contents", change))
            }
        }
        // Everything the input made where the lower layer has nothing of its type is reported.
        for entry in model.entries where !entry.belowUnsafe && !model.isWhiteout(entry) {
            if let lower = fixture.entries[entry.path], lower.type == entry.type { continue }
            invariant(seen.contains("+" + entry.path), fail("\(entry.path.debugDescription) (\(entry.type.rawValue)) was made but is not in the change set"))
        }
    }

    func checkAddition(_ change: Change, made: [String: [Made]]) {
        guard let candidates = made[change.path], let entry = candidates.first else {
            invariant(false, fail("a change names nothing the input made", change))
            return
        }
        if candidates.count > 1 {
            // An escaped name and a valid one that spells it: which is which is not known here.
            invariant(candidates.contains { $0.type == change.type || $0.unsafeName }, fail("a change names nothing the input made", change))
            return
        }
        invariant(!entry.belowUnsafe, fail("a change below a directory whose name is unsafe", change))
        invariant(!model.isWhiteout(entry), fail("a whiteout reported as an entry", change))
        invariant(change.type == entry.type, fail("the change's type is not the entry's (\(entry.type.rawValue))", change))
        let node = model.nodes[entry.node]
        if entry.unsafeName {
            // Held whatever it is; only what its descriptor says is reported.
            invariant(change.flags.unsafeName != nil, fail("an unsafe name is not held", change))
            invariant(entry.type != .file || change.size == node.size, fail("a file's size is not what was written (\(node.size))", change))
            return
        }
        switch entry.type {
        case .file:
            let cut = limits.map { node.size > $0.file && change.size == $0.file + 1 } ?? false
            invariant(change.size == node.size || cut, fail("a file's size is not what was written (\(node.size))", change))
        case .symlink:
            let target = entry.target ?? []
            let expected = String(validating: target, as: UTF8.self) ?? RawName.escape(target)
            invariant(change.symlinkTarget == expected, fail("a symlink's target is not its own (\(expected.debugDescription))", change))
            invariant(change.size == UInt64(expected.utf8.count), fail("a symlink's size is not its target's length", change))
            if String(validating: target, as: UTF8.self) == nil {
                invariant(change.flags.unsafeName != nil, fail("a symlink target that is not UTF-8 is not held", change))
            }
        default:
            invariant(change.size == 0 || entry.type == .directory, fail("a special file with a size", change))
        }
        if entry.type == .file && entry.name.starts(with: Array(".wh.".utf8)) {
            invariant(change.flags.unsafeName != nil, fail("a name in the form of a whiteout is not held", change))
        }
        let f = change.flags
        invariant(f.hardLinked == (entry.type != .directory && node.links > 1), fail("hardLinked is wrong (links \(node.links))", change))
        invariant(f.special == [.fifo, .socket, .charDevice, .blockDevice].contains(entry.type), fail("special is wrong", change))
        let mode = entry.type == .symlink ? 0o777 : node.mode
        invariant(
            f.setuid == (mode & 0o4000 != 0) && f.setgid == (mode & 0o2000 != 0) && f.sticky == (mode & 0o1000 != 0),
            fail("set-id or sticky flags are not the mode's (\(String(mode, radix: 8)))", change))
        invariant(f.opaque == model.isOpaque(entry), fail("opaque is wrong", change))
    }

    func checkDeletion(_ change: Change, made: [String: [Made]]) {
        if made[change.path]?.contains(where: { $0.charWhiteout && $0.unsafeName }) == true {
            // A whiteout whose name is not UTF-8: reported (held) as a deletion of that name.
            invariant(change.flags.unsafeName != nil, fail("a whiteout with an unsafe name is not held", change))
            return
        }
        guard let lower = fixture.entries[change.path] else {
            invariant(false, fail("a deletion of something the lower layer does not have (read outside it?)", change))
            return
        }
        invariant(
            change.type == lower.type && (lower.type != .file || change.size == lower.size),
            fail("a deletion does not describe the lower entry (\(lower.type.rawValue), \(lower.size) bytes)", change))
        // The input made this path (a whiteout, or another entry over it), or a directory above it
        // that hides or replaces it.
        var parts = change.path.split(separator: "/").map(String.init)
        // An opaque root hides every lower entry the upper has no entry (other than a whiteout) for.
        if model.rootOpaque, made[parts[0]]?.allSatisfy(model.isWhiteout) ?? true { return }
        while !parts.isEmpty {
            for entry in made[parts.joined(separator: "/")] ?? [] where !entry.belowUnsafe {
                let isPath = parts.count == change.path.split(separator: "/").count
                let lowerType = fixture.entries[entry.path]?.type
                if model.isWhiteout(entry) || lowerType != entry.type || (!isPath && model.isOpaque(entry)) { return }
            }
            parts.removeLast()
        }
        invariant(false, fail("a deletion that nothing the input made explains", change))
    }
}
