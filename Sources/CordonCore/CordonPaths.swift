#if canImport(Glibc)
    import Glibc
#endif

/// Where cordon keeps its files, following the XDG base directory layout.
///
/// Config (profiles, user presets, approvals): `$XDG_CONFIG_HOME/cordon` (default `~/.config/cordon`).
/// State (sandboxes' upper layers, event logs): `$XDG_STATE_HOME/cordon` (default `~/.local/state/cordon`).
public struct CordonPaths: Sendable, Equatable {
    /// cordon's config directory (profiles, presets, trust): `<XDG config>/cordon`.
    public var configHome: String
    /// cordon's state directory (sandboxes, their upper layers and logs): `<XDG state>/cordon`.
    public var stateHome: String

    public init(configHome: String, stateHome: String) {
        self.configHome = configHome
        self.stateHome = stateHome
    }

    /// Paths for the current user, from the environment.
    public static func current(environment: [String: String] = ProcessEnvironment.current) -> CordonPaths {
        let home = HomeDirectory.resolve(environment: environment)
        let config = environment["XDG_CONFIG_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? home + "/.config"
        let state = environment["XDG_STATE_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? home + "/.local/state"
        return CordonPaths(configHome: config + "/cordon", stateHome: state + "/cordon")
    }

    /// User presets: `<config>/presets/NAME.yaml`.
    public var presetsDirectory: String { configHome + "/presets" }
    /// Named profiles: `<config>/profiles/NAME.yaml`.
    public var profilesDirectory: String { configHome + "/profiles" }
    /// All sandboxes' state.
    public var sandboxesDirectory: String { stateHome + "/sandboxes" }
    /// Emptied state directories of one-shot sandboxes that left nothing, kept for the next new
    /// sandbox (`SpareStateDirectories`); none is a sandbox, and all are safe to delete.
    public var spareStateDirectory: String { stateHome + "/spare" }
    /// Compiled secret-scanner databases, keyed by their rules (a cache: safe to delete).
    public var scannerCache: String { stateHome + "/scanner-cache" }
    /// One sandbox's state directory (upper layer, work dir, event log, metadata).
    public func sandboxDirectory(_ name: String) -> String { sandboxesDirectory + "/" + name }
    /// Persistent per-profile data directories (`data:` in a profile).
    public func profileDataDirectory(_ profile: String) -> String { stateHome + "/profiles/" + profile + "/data" }
    /// Hashes of the in-workspace profiles the user trusts (`cordon trust`).
    public var trustStore: String { configHome + "/trusted-profiles" }

    /// Which of cordon's own directories `path` contains or lies inside, compared by their real
    /// paths (symlinks and `..` resolved, so no spelling hides one), and by what the mounts at
    /// and beneath `path` show (`mounts`, the host's mount table): a bind mount of the state
    /// directory elsewhere, or a mount point inside `path` that shows it, reaches it as surely.
    /// `via` names such a mount point. nil when neither directory is reachable.
    public func ownDirectoryOverlapping(_ path: String, mounts: MountTable?) -> (name: String, directory: String, via: String?)? {
        let target = Self.canonical(path)
        for (name, directory) in [("state", stateHome), ("config", configHome)] {
            let own = Self.canonical(directory)
            if Self.isWithin(target, own) || Self.isWithin(own, target) { return (name, own, nil) }
            if let via = mounts?.reaches(from: target, own) { return (name, own, via) }
        }
        return nil
    }

    /// True when `path` is `directory` or lies beneath it (both canonical).
    public static func isWithin(_ path: String, _ directory: String) -> Bool {
        directory == "/" || path == directory || path.hasPrefix(directory + "/")
    }

    /// The real path of `path`: its longest existing prefix through realpath(3), the rest (not
    /// yet created) appended with `.` and `..` resolved lexically. Relative paths are taken from
    /// the current directory.
    public static func canonical(_ path: String) -> String {
        var absolute = path
        if !absolute.hasPrefix("/") {
            guard let cwd = getcwd(nil, 0) else { return path }
            absolute = String(cString: cwd) + "/" + path
            free(cwd)
        }
        var existing = ""
        var rest: [Substring] = absolute.split(separator: "/")[...].reversed()
        var resolved = "/"
        while let part = rest.popLast() {
            let candidate = existing + "/" + part
            guard let real = realpath(candidate, nil) else {
                rest.append(part)
                break
            }
            resolved = String(cString: real)
            free(real)
            existing = resolved == "/" ? "" : resolved
        }
        var parts = resolved.split(separator: "/")
        for part in rest.reversed() {
            if part == "." { continue }
            if part == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }
}

/// The process environment as a dictionary, read once from `environ`.
public enum ProcessEnvironment {
    /// The process's environment, read once (cordon never changes its own).
    public static let current: [String: String] = {
        var result: [String: String] = [:]
        var cursor = environ
        while let entry = cursor.pointee {
            let pair = String(cString: entry)
            if let eq = pair.firstIndex(of: "=") {
                result[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
            }
            cursor += 1
        }
        return result
    }()

    /// The home directory from the password database, for when HOME is unset or not absolute.
    public static func passwdHome() -> String? {
        guard let entry = getpwuid(getuid()), let dir = entry.pointee.pw_dir else { return nil }
        return String(cString: dir)
    }
}

/// The user's home directory, by one rule for every reader (paths, profiles' `~`, the sandbox's
/// host facts): `$HOME` when it is an absolute path; when it is unset, empty or relative, the
/// password database's entry for this uid (a relative HOME would put cordon's state and the
/// profile's `~` wherever the command happens to run); `/` when that has no absolute home either.
public enum HomeDirectory {
    public static func resolve(
        environment: [String: String] = ProcessEnvironment.current, passwd: () -> String? = ProcessEnvironment.passwdHome
    ) -> String {
        if let home = environment["HOME"], home.hasPrefix("/") { return home }
        if let home = passwd(), home.hasPrefix("/") { return home }
        return "/"
    }
}
