import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// What cordon remembers about one sandbox, stored as `<state>/sandboxes/NAME/sandbox.json`.
///
/// `cordon run` writes it; `cordon diff`, `cordon sync` and the lifecycle commands read it.
/// The layout of the directory is fixed by `SandboxLayout`.
public struct SandboxRecord: Sendable, Codable, Equatable {
    public var name: String
    public var profile: String
    /// `secure`, `yolo` or `unsafe`.
    public var mode: String
    /// The host directory mounted at /workspace (the overlay's lower layer).
    public var workspace: String
    /// Overlay layers of extra `mounts` with mode `overlay`: host path → upper dir.
    public var overlayMounts: [OverlayMount]
    /// RFC 3339 time the sandbox was first created.
    public var created: String
    /// RFC 3339 time of the last start.
    public var lastStarted: String?
    /// Host files that shape the sandbox's policy (the profile file, files it names): a sync never
    /// changes them (see docs/threat-model.md).
    public var policyFiles: [String] = []

    public struct OverlayMount: Sendable, Codable, Equatable {
        /// The mount's host directory (the overlay's lower layer, never written by the sandbox).
        public var host: String
        /// Where the sandbox sees it.
        public var sandbox: String
        /// The directory under the sandbox's state that holds every write the agent made to it.
        public var upper: String
        public init(host: String, sandbox: String, upper: String) {
            self.host = host
            self.sandbox = sandbox
            self.upper = upper
        }
    }

    public init(name: String, profile: String, mode: String, workspace: String, overlayMounts: [OverlayMount] = [], created: String, lastStarted: String? = nil)
    {
        self.name = name
        self.profile = profile
        self.mode = mode
        self.workspace = workspace
        self.overlayMounts = overlayMounts
        self.created = created
        self.lastStarted = lastStarted
    }
}

extension SandboxRecord {
    /// The record as `sandbox.json` holds it (keys sorted; `loadRecord` decodes it), made without
    /// Foundation's encoder: the supervisor writes it at every start, and that encoder's code and
    /// metadata would stay resident for the whole run.
    public var jsonText: String {
        var pairs: [(String, JSONValue)] = [("created", .string(created))]
        if let lastStarted { pairs.append(("lastStarted", .string(lastStarted))) }
        pairs += [
            ("mode", .string(mode)), ("name", .string(name)),
            (
                "overlayMounts",
                .array(overlayMounts.map { .object([("host", .string($0.host)), ("sandbox", .string($0.sandbox)), ("upper", .string($0.upper))]) })
            ),
            ("policyFiles", .array(policyFiles.map { .string($0) })), ("profile", .string(profile)), ("workspace", .string(workspace)),
        ]
        return JSONValue.object(pairs).encoded() + "\n"
    }
}

extension SandboxRecord {
    /// The record from the JSON value `sandbox.json` holds; names the field that is missing or
    /// of the wrong type.
    public init(json: JSONValue) throws(JSONParseError) {
        func text(_ value: JSONValue?, _ field: String) throws(JSONParseError) -> String {
            guard case .string(let string)? = value else { throw JSONParseError(offset: 0, reason: "field \"\(field)\" missing or not a string") }
            return string
        }
        guard case .object = json else { throw JSONParseError(offset: 0, reason: "not a JSON object") }
        var mounts: [OverlayMount] = []
        if let value = json["overlayMounts"] {
            guard case .array(let items) = value else { throw JSONParseError(offset: 0, reason: "field \"overlayMounts\" is not an array") }
            for item in items {
                mounts.append(
                    OverlayMount(
                        host: try text(item["host"], "overlayMounts.host"), sandbox: try text(item["sandbox"], "overlayMounts.sandbox"),
                        upper: try text(item["upper"], "overlayMounts.upper")))
            }
        }
        var lastStarted: String?
        if let value = json["lastStarted"], value != .null { lastStarted = try text(value, "lastStarted") }
        var policyFiles: [String] = []
        if let value = json["policyFiles"] {
            guard case .array(let items) = value else { throw JSONParseError(offset: 0, reason: "field \"policyFiles\" is not an array") }
            for item in items { policyFiles.append(try text(item, "policyFiles")) }
        }
        self.init(
            name: try text(json["name"], "name"), profile: try text(json["profile"], "profile"), mode: try text(json["mode"], "mode"),
            workspace: try text(json["workspace"], "workspace"), overlayMounts: mounts, created: try text(json["created"], "created"),
            lastStarted: lastStarted)
        self.policyFiles = policyFiles
    }
}

/// The fixed layout of a sandbox's state directory.
public struct SandboxLayout: Sendable, Equatable {
    public var directory: String
    public init(directory: String) { self.directory = directory }
    public init(paths: CordonPaths, name: String) { self.directory = paths.sandboxDirectory(name) }

    /// Names of the entries the layout and other code (spare directories) refer to by name.
    public enum Entry {
        public static let upper = "upper"
        public static let work = "work"
        public static let root = "root"
        public static let controlSocket = "control.sock"
        public static let lock = "lock"
    }

    public var record: String { directory + "/sandbox.json" }
    /// The sandbox's name: the last component of its directory.
    public var name: String { directory.split(separator: "/").last.map(String.init) ?? directory }
    /// The workspace overlay's upper layer: every write the agent made to /workspace.
    public var upper: String { directory + "/" + Entry.upper }
    /// The overlay's work dir (same filesystem as `upper`, as overlayfs requires).
    public var work: String { directory + "/" + Entry.work }
    /// Empty directory the sandbox root is built on (a tmpfs is mounted on it inside) in a rootless
    /// run; run as root, init builds the root at /run/cordon/root and this is not made.
    public var root: String { directory + "/" + Entry.root }
    /// Files generated for the sandbox (passwd, group, hosts, resolv.conf).
    public var generated: String { directory + "/generated" }
    /// One JSON line per lifecycle event.
    public var events: String { directory + "/events.jsonl" }
    /// One JSON line per network decision (`NetworkLog`).
    public var networkLog: String { directory + "/network.jsonl" }
    /// The audit log: hash-chained JSON lines (CordonAudit, docs/threat-model.md "Audit log").
    public var auditLog: String { directory + "/audit.jsonl" }
    /// The audit log's head (last seq and hash), replaced at every stop, sync and down.
    public var auditHead: String { directory + "/audit.head" }
    /// The running supervisor's control socket (approvals; later lifecycle commands).
    public var controlSocket: String { directory + "/" + Entry.controlSocket }
    /// Held while a process runs in the sandbox (flock).
    public var lock: String { directory + "/" + Entry.lock }
    /// Held while a sync (manual or yolo's) checks and applies, so two never interleave (flock).
    public var syncLock: String { directory + "/sync.lock" }
    /// The sync journal an interrupted apply is recovered from.
    public var syncJournal: String { directory + "/sync-journal.json" }

    /// The host entries a sync of the running sandbox wrote, as it left them (`HostWrites`): a
    /// later sync does not hold them as changed on the host.
    public var hostWrites: String { directory + "/host-writes.json" }

    /// Where a sync of the running sandbox copies the files it checks and applies.
    public var snapshot: String { directory + "/snapshot" }

    /// Whether a supervisor holds the sandbox's lock now (its overlay is mounted).
    public var isRunning: Bool {
        let fd = open(lock, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK
    }

    /// Runs `body` holding the sync lock (waits for a sync in progress to finish).
    public func withSyncLock<T>(_ body: () throws(CordonError) -> T) throws(CordonError) -> T {
        try Self.withLock(at: syncLock, body)
    }

    /// Runs `body` holding an exclusive flock on `path` (created if missing).
    public static func withLock<T>(at path: String, _ body: () throws(CordonError) -> T) throws(CordonError) -> T {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CordonError(.io, "cannot open \(path)", cause: String(cString: strerror(errno))) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw CordonError(.io, "cannot lock \(path)", cause: String(cString: strerror(errno))) }
        }
        return try body()
    }

    public func loadRecord() throws(CordonError) -> SandboxRecord {
        var missing = CordonError.unknownSandbox(name)
        if access(directory, F_OK) == 0 {
            missing = CordonError(
                .notFound, "sandbox \"\(name)\" has no record (sandbox.json): its first run ended before it was written",
                hint: "remove it with `cordon rm \(name)`")
        }
        let bytes = try Self.readSmallFile(record, missing: missing)
        do throws(JSONParseError) {
            return try SandboxRecord(json: try JSONValue.parse(bytes))
        } catch {
            throw CordonError(.io, "\(record) is not a valid sandbox record", cause: error.description)
        }
    }

    /// A file of at most 1 MiB (records are a few hundred bytes); `missing` when it does not exist.
    static func readSmallFile(_ path: String, missing: CordonError) throws(CordonError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT || errno == ENOTDIR { throw missing }
            throw CordonError(.io, "cannot open \(path)", cause: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CordonError(.io, "cannot read \(path)", cause: String(cString: strerror(errno)))
            }
            if n == 0 { return bytes }
            bytes += chunk[..<n]
            if bytes.count > 1 << 20 { throw CordonError(.io, "\(path) is larger than 1 MiB: not a sandbox record") }
        }
    }
}

extension CordonError {
    /// The one error of every command that takes a sandbox name, for a name no sandbox has.
    public static func unknownSandbox(_ name: String) -> CordonError {
        CordonError(.notFound, "no sandbox named \"\(name)\"", hint: "see `cordon ls`")
    }
}
