/// Resolves a symlink's target the way the kernel will once the change set is applied: component by
/// component, following every symlink met on the way, whether the change set adds it or the host
/// already has it. A lexical check is not enough: `x -> link/passwd` stays inside on paper, and
/// leaves the workspace when the host already has `link -> /etc`.
enum LinkResolver {
    /// What a path of the workspace will be, as far as resolution cares.
    enum Entry: Equatable {
        case directory
        case symlink(String)
        /// A file, a special file, or nothing: resolution goes on lexically below it (the kernel
        /// would stop there; either way nothing outside is reached).
        case other
    }

    /// Symlinks followed at most, as the kernel's limit (MAXSYMLINKS).
    static let maximumExpansions = 40

    /// Whether the symlink at `path` (workspace-relative) with `target` leads outside the workspace,
    /// or loops. `entry` answers for any workspace-relative path whose parents are real directories.
    static func escapes(path: String, target: String, entry: (String) -> Entry) -> Bool {
        if target.isEmpty || target.hasPrefix("/") { return true }
        var current = path.split(separator: "/").dropLast().map(String.init)
        var pending = target.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        var expansions = 0
        var lexical = false
        while !pending.isEmpty {
            let part = pending.removeFirst()
            if part == "." { continue }
            if part == ".." {
                if current.isEmpty { return true }
                current.removeLast()
                continue
            }
            current.append(part)
            if lexical { continue }
            switch entry(current.joined(separator: "/")) {
            case .directory: continue
            case .other: lexical = true
            case .symlink(let next):
                expansions += 1
                if expansions > maximumExpansions || next.isEmpty || next.hasPrefix("/") { return true }
                current.removeLast()
                pending = next.split(separator: "/", omittingEmptySubsequences: true).map(String.init) + pending
            }
        }
        return false
    }
}
