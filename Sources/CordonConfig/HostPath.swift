/// Path rules for profiles, checked and resolved without touching the filesystem.
///
/// Host paths are absolute or start with `~/` (the user's home, expanded at load time); a few
/// fields (workspace, blocklists, gitleaks_config) may also be relative to the profile's directory.
/// Sandbox paths are absolute or start with `~/` (the sandbox user's home, expanded by `cordon run`).
enum HostPath {
    /// Resolves a host path, or returns the problem with it.
    static func resolve(_ text: String, home: String, relativeTo base: String?) -> Result<String, PathProblem> {
        if text == "~" { return .success(normalize(home)) }
        if text.hasPrefix("~/") { return .success(normalize(home + "/" + text.dropFirst(2))) }
        if text.hasPrefix("~") { return .failure(.otherUser) }
        if text.hasPrefix("/") { return .success(normalize(text)) }
        guard let base else { return .failure(.relative) }
        return .success(normalize(base + "/" + text))
    }

    /// Removes `.`, `..` and repeated slashes, lexically.
    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    static func directory(of file: String) -> String {
        guard let slash = file.lastIndex(of: "/") else { return "." }
        return slash == file.startIndex ? "/" : String(file[..<slash])
    }

    enum PathProblem: Error {
        case relative, otherUser
        var message: String {
            switch self {
            case .relative: return "is a relative path"
            case .otherUser: return "uses \"~user\", which cordon does not expand"
            }
        }
        var hint: String { "write an absolute path (\"/srv/data\") or one under your home (\"~/data\")" }
    }

    /// Nil when `text` is a valid sandbox path, else the problem and a fix.
    static func sandboxProblem(_ text: String) -> (String, String)? {
        let hint = "write an absolute path inside the sandbox (\"/data\") or one under its home (\"~/.cache\")"
        guard text.hasPrefix("/") || text == "~" || text.hasPrefix("~/") else {
            return ("must be absolute or start with \"~/\"", hint)
        }
        if text.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) {
            return ("must not contain \".\" or \"..\" components", hint)
        }
        let normalized = SandboxPath.normalized(text)
        if normalized == "/" || normalized == "~" { return ("cannot replace the whole \(normalized == "/" ? "root" : "home") directory", hint) }
        if ["/workspace", "/proc", "/dev"].contains(where: { normalized == $0 || normalized.hasPrefix($0 + "/") }) {
            return ("is reserved by cordon", "choose another sandbox path")
        }
        return nil
    }
}
