import CordonPolicy
public import CordonCore
import CordonOS
#if canImport(Glibc)
    import Glibc
#endif

/// Whether a profile may be used as it is. A profile inside the workspace (a repository's
/// `cordon.yaml`) was written by whoever wrote the repository, or by an earlier agent: it is
/// used only once the user has trusted exactly its content (like direnv's `allow`). The trust
/// covers the profile file and every file it makes cordon read: user presets, the gitleaks
/// config, blocklists, the parent proxy's CA file.
public enum ProfileTrust {
    /// One file the trust covers; `sha256` is nil when the file does not exist (or cannot be read).
    public struct Input: Sendable, Equatable {
        public var role: String
        public var path: String
        public var sha256: String?

        public init(role: String, path: String, sha256: String?) {
            self.role = role
            self.path = path
            self.sha256 = sha256
        }
    }

    /// What `cordon run` must do with a loaded profile.
    public enum Verdict: Sendable, Equatable {
        /// The built-in profile, or a profile outside the workspace and the current directory: the user's own.
        case own
        /// Trusted with exactly this content.
        case trusted
        /// New or changed since it was trusted: nothing may start.
        case untrusted(digest: String, previously: String?)
    }

    /// True when the profile file lies inside the workspace or the current directory (where a
    /// repository's profile sits, even one that names another `workspace:`) and not in cordon's
    /// config directory. Both the path as written and its real path count, so a symlink in the
    /// repository that points elsewhere (the agent choosing which file becomes the profile) counts
    /// as inside. A current directory of `/` or one that contains the config directory (the home)
    /// is no project: it counts only as the workspace would.
    public static func needsTrust(source: String, workspace: String, currentDirectory: String, paths: CordonPaths) -> Bool {
        guard source.hasPrefix("/") else { return false }
        func spellings(_ path: String) -> [String] {
            [HostPath.normalize(path.hasPrefix("/") ? path : currentDirectory + "/" + path), CordonPaths.canonical(path)]
        }
        let file = spellings(source)
        let config = spellings(paths.configHome)
        if config.contains(where: { CordonPaths.isWithin(file[0], $0) }) { return false }
        var places = spellings(workspace)
        let current = spellings(currentDirectory)
        if !current.contains("/"), !config.contains(where: { own in current.contains { CordonPaths.isWithin(own, $0) } }) {
            places += current
        }
        return places.contains { place in place != "/" && file.contains { CordonPaths.isWithin($0, place) } }
    }

    public static func verdict(for loaded: LoadedProfile, workspace: String, currentDirectory: String, paths: CordonPaths) throws(CordonError) -> Verdict {
        guard needsTrust(source: loaded.source, workspace: workspace, currentDirectory: currentDirectory, paths: paths) else { return .own }
        let digest = Self.digest(inputs(of: loaded))
        let stored = try TrustStore(paths: paths).digest(for: key(loaded.source))
        return stored == digest ? .trusted : .untrusted(digest: digest, previously: stored)
    }

    /// The trust store's key for a profile: its real, absolute path.
    public static func key(_ source: String) -> String { CordonPaths.canonical(source) }

    /// The files the trust covers, in a fixed order: the profile, its user presets, then the files it names.
    public static func inputs(of loaded: LoadedProfile) -> [Input] {
        var result: [Input] = []
        for (index, file) in loaded.files.enumerated() {
            result.append(Input(role: index == 0 ? "profile" : "preset", path: file.path, sha256: ContentHash.sha256Hex(file.bytes)))
        }
        let profile = loaded.profile
        var named: [(String, String)] = []
        if let gitleaks = profile.sync.gitleaksConfig { named.append(("sync.gitleaks_config", gitleaks)) }
        for (index, list) in profile.egress.blocklists.enumerated() { named.append(("egress.blocklists[\(index)]", list)) }
        if let ca = profile.egress.parentProxy?.caFile { named.append(("egress.parent_proxy.ca_file", ca)) }
        for (index, ca) in profile.egress.upstreamCA.enumerated() { named.append(("egress.upstream_ca[\(index)]", ca)) }
        for (role, path) in named { result.append(Input(role: role, path: path, sha256: hashFile(path))) }
        return result
    }

    /// One digest over every input: role, path and content hash of each, in order.
    public static func digest(_ inputs: [Input]) -> String {
        var text = "cordon-profile-trust-v1\n"
        for input in inputs { text += "\(input.role)\u{0}\(input.path)\u{0}\(input.sha256 ?? "missing")\n" }
        return ContentHash.sha256Hex(Array(text.utf8))
    }

    /// SHA-256 of a regular file's whole content, read in chunks; nil when it cannot be opened or
    /// is anything else (a FIFO or a device named by a hostile profile would block or never end).
    static func hashFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        var hash = ContentHash()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if n == 0 { break }
            hash.update(chunk[0..<n])
        }
        return hash.finalizeHex()
    }

    /// One thing a profile allows that the built-in default profile does not.
    public struct Grant: Sendable, Equatable {
        public var field: String
        /// Human-readable, with control characters and bidi overrides escaped.
        public var text: String
    }

    /// What `profile` allows beyond `Profile.defaults`: what the user accepts by trusting it.
    public static func grants(_ profile: Profile) -> [Grant] {
        let base = Profile.defaults
        var out: [Grant] = []
        func add(_ field: String, _ text: String) { out.append(Grant(field: field, text: escaped(text))) }
        if profile.name != base.name {
            add("name", "\(profile.name): shares the data dirs and \"always\" approvals of every profile named \(profile.name)")
        }
        switch profile.mode {
        case .secure: break
        case .yolo: add("mode", "yolo: changes that pass the gate reach the host every \(TimeSpan.format(profile.sync.interval)) without review")
        case .unsafe: add("mode", "unsafe: the workspace is bound read-write; every write reaches the host unreviewed")
        }
        if let workspace = profile.workspace { add("workspace", "\(workspace) mounted at /workspace") }
        for mount in profile.mounts {
            let how: String
            switch mount.mode {
            case .rw: how = "read-write (writes reach the host)"
            case .overlay: how = "writable overlay (writes kept in the sandbox)"
            case .ro: how = "read-only"
            }
            add("mounts", "\(mount.host) at \(mount.sandbox), \(how)")
        }
        for dir in profile.data { add("data", "persistent directory \"\(dir.name)\" at \(dir.path), read-write") }
        for copy in profile.copy { add("copy", "host file \(copy.host) copied to \(copy.sandbox)") }
        for (key, value) in profile.env.sorted(by: { $0.key < $1.key }) { add("env", "\(key)=\(value)") }
        let r = profile.resources, d = base.resources
        if let raised = raisedLimit(r.memory, d.memory) { add("resources.memory", raised(ByteSize.format)) }
        if let raised = raisedLimit(r.pids.map(UInt64.init), d.pids.map(UInt64.init)) { add("resources.pids", raised { String($0) }) }
        if let raised = raisedLimit(r.disk, d.disk) { add("resources.disk", raised(ByteSize.format)) }
        if let cpus = r.cpus, d.cpus.map({ cpus > $0 }) ?? false { add("resources.cpus", "\(cpus)") }
        switch profile.network {
        case .host: add("network", "host: the host's network, unfiltered and unlogged")
        case .proxy, .none: break
        }
        let e = profile.egress
        if profile.network != .none {
            for domain in e.domains where !base.egress.domains.contains(domain) { add("egress.domains", domain.text) }
            for cidr in e.allowPrivate { add("egress.allow_private", cidr.text) }
            for (host, address) in e.resolve.sorted(by: { $0.key.text < $1.key.text }) { add("egress.resolve", "\(host.text) → \(address.text)") }
            if e.prompt { add("egress.prompt", "the agent may ask for unlisted domains") }
            if let parent = e.parentProxy {
                add("egress.parent_proxy", parent.url.text + (parent.noProxy.isEmpty ? "" : " (direct: \(parent.noProxy.map(\.text).joined(separator: ", ")))"))
            }
        }
        for secret in profile.secrets {
            add("secrets", "\(secret.name)" + (secret.domains.isEmpty ? "" : " sent to \(secret.domains.joined(separator: ", "))"))
        }
        let s = profile.sync
        if let gitleaks = s.gitleaksConfig { add("sync.gitleaks_config", "\(gitleaks) replaces cordon's secret rules") }
        if s.maxFileSize > base.sync.maxFileSize { add("sync.max_file_size", ByteSize.format(s.maxFileSize)) }
        if s.maxTotalSize > base.sync.maxTotalSize { add("sync.max_total_size", ByteSize.format(s.maxTotalSize)) }
        if profile.mcp.allowApply {
            add("mcp.allow_apply", "an agent driving `cordon mcp` may apply this sandbox's changes to the host (when the gate finds nothing)")
        }
        if profile.presets.count > 0 { add("presets", profile.presets.joined(separator: ", ") + " (their grants are listed above)") }
        return out
    }

    /// A limit above the default's, or none where the default has one: a renderer of the change.
    private static func raisedLimit(_ value: UInt64?, _ base: UInt64?) -> (((UInt64) -> String) -> String)? {
        switch (value, base) {
        case (nil, let base?): return { format in "unlimited (default \(format(base)))" }
        case (let value?, let base?) where value > base: return { format in "\(format(value)) (default \(format(base)))" }
        default: return nil
        }
    }

    /// `text` escaped for the terminal (`TerminalText`), so a hostile profile cannot rewrite what
    /// the terminal shows.
    public static func escaped(_ text: String) -> String {
        TerminalText.escaped(text)
    }
}

/// The user's trusted in-workspace profiles: `<config>/trusted-profiles`, one line per profile,
/// `DIGEST PATH` (the digest of `ProfileTrust.digest`, the profile's real path). Outside every
/// workspace (a workspace containing the config dir is refused).
public struct TrustStore: Sendable {
    public struct Entry: Sendable, Equatable {
        public var path: String
        public var digest: String
    }

    public let path: String

    public init(paths: CordonPaths) {
        path = paths.trustStore
    }

    public func entries() throws(CordonError) -> [Entry] {
        guard ProfileFile.exists(path) else { return [] }
        var result: [Entry] = []
        for (number, line) in try ProfileFile.read(path).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let space = line.firstIndex(of: " "), line[..<space].count == 64,
                line[..<space].allSatisfy({ $0.isHexDigit }), line[line.index(after: space)...].hasPrefix("/")
            else {
                throw CordonError(
                    .invalidArgument, "\(path):\(number + 1): not a trust entry (expected a SHA-256 digest, a space and an absolute path)",
                    hint: "delete the line, or the file to forget every trusted profile")
            }
            result.append(Entry(path: String(line[line.index(after: space)...]), digest: String(line[..<space])))
        }
        return result
    }

    public func digest(for key: String) throws(CordonError) -> String? {
        try entries().last { $0.path == key }?.digest
    }

    /// Records `digest` for `key`, replacing an earlier one.
    public func trust(_ key: String, digest: String) throws(CordonError) {
        guard !key.contains("\n") else {
            throw CordonError(.invalidArgument, "cannot trust \(ProfileTrust.escaped(key)): its path contains a line break", hint: "rename the file")
        }
        try write(try entries().filter { $0.path != key } + [Entry(path: key, digest: digest)])
    }

    /// Forgets `key`; false when it was not trusted.
    public func revoke(_ key: String) throws(CordonError) -> Bool {
        let current = try entries()
        let kept = current.filter { $0.path != key }
        guard kept.count != current.count else { return false }
        try write(kept)
        return true
    }

    private func write(_ entries: [Entry]) throws(CordonError) {
        let text =
            "# cordon: in-workspace profiles trusted by content (`cordon trust FILE`); delete a line to revoke\n"
            + entries.map { "\($0.digest) \($0.path)\n" }.joined()
        do {
            try FileIO.makeDirectories(HostPath.directory(of: path), mode: 0o700)
            try FileIO.writeAtomically(path, Array(text.utf8), mode: 0o600)
        } catch {
            throw CordonError(.io, "cannot write \(path)", cause: error.description)
        }
    }
}
