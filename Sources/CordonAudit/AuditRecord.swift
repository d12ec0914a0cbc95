public import CordonCore
import CordonOS

/// One record of a sandbox's audit log before it is chained: its kind, when it happened and its
/// own fields. `AuditLog` adds `seq` and `prev` and writes it as one JSON line:
/// `{"version":1,"seq":N,"time":"…","kind":"…",…fields…,"prev":"<hex SHA-256 of the previous line>"}`.
/// The shapes are in docs/json.md ("cordon audit").
///
/// Text the agent chose (argv, paths, hosts) is stored as JSON strings: paths as `RawName`
/// escapes them (bytes outside UTF-8, and `\`, written `\xHH`), so any name is stored exactly and
/// a reader escapes again for a terminal (`TerminalText`).
public struct AuditRecord: Sendable, Equatable {
    public var kind: String
    public var time: String
    public var fields: [(String, JSONValue)]

    public init(kind: String, time: String = WallClock.rfc3339(), fields: [(String, JSONValue)]) {
        self.kind = kind
        self.time = time
        self.fields = fields
    }

    public static func == (a: AuditRecord, b: AuditRecord) -> Bool {
        a.kind == b.kind && a.time == b.time && JSONValue.object(a.fields) == JSONValue.object(b.fields)
    }

    /// Longest text kept of one agent-chosen value (an argument, a path, a reason).
    public static let textLimit = 1024
    /// Most items kept of a list (argv, synced paths); the rest are counted.
    public static let listLimit = 200

    /// `text`, cut at `textLimit` bytes (on a character boundary) with how much was cut said.
    static func bounded(_ text: String) -> JSONValue {
        guard text.utf8.count > textLimit else { return .string(text) }
        var cut = ""
        for character in text {
            if cut.utf8.count + character.utf8.count > textLimit { break }
            cut.append(character)
        }
        return .string(cut + "…(\(text.utf8.count - cut.utf8.count) more bytes)")
    }

    /// A list of texts, bounded: at most `listLimit` items kept, each bounded.
    static func boundedList(_ items: [String]) -> JSONValue {
        .array(items.prefix(listLimit).map(bounded))
    }

    // MARK: - Kinds

    /// The sandbox starts: what runs it.
    public static func start(profile: String, mode: String, workspace: String, network: String, diskLimitBytes: Int, via: String) -> AuditRecord {
        AuditRecord(
            kind: "start",
            fields: [
                ("profile", bounded(profile)), ("mode", .string(mode)), ("workspace", bounded(workspace)), ("network", .string(network)),
                ("disk_limit_bytes", .int(diskLimitBytes)), ("via", .string(via)),
            ])
    }

    /// The sandbox stopped: init's exit status, how long it ran, and why it was frozen at its
    /// disk limit (null when it was not).
    public static func exit(status: Int, durationMS: Int, oomKills: Int, diskLimit: String?) -> AuditRecord {
        AuditRecord(
            kind: "exit",
            fields: [
                ("status", .int(status)), ("duration_ms", .int(durationMS)), ("oom_kills", .int(oomKills)),
                ("disk_limit", diskLimit.map(bounded) ?? .null),
            ])
    }

    /// A command starts in the sandbox (`via`: "run" for `cordon run`'s command, "exec" for
    /// `cordon exec`). `id` pairs it with its `execExit`.
    public static func exec(id: Int, argv: [String], via: String) -> AuditRecord {
        AuditRecord(
            kind: "exec",
            fields: [("exec_id", .int(id)), ("argv", boundedList(argv)), ("argc", .int(argv.count)), ("via", .string(via))])
    }

    /// The command `id` exited.
    public static func execExit(id: Int, status: Int, durationMS: Int) -> AuditRecord {
        AuditRecord(kind: "exec_exit", fields: [("exec_id", .int(id)), ("status", .int(status)), ("duration_ms", .int(durationMS))])
    }

    /// An egress decision of the proxy or the DNS stub (`decision`: allow, deny or error).
    public static func network(
        time: String, method: String, host: String, port: Int, decision: String, rule: String, reason: String, client: String
    ) -> AuditRecord {
        AuditRecord(
            kind: "network", time: time,
            fields: [
                ("decision", .string(decision)), ("method", bounded(method)), ("host", bounded(host)), ("port", .int(port)),
                ("rule", bounded(rule)), ("reason", bounded(reason)), ("client", bounded(client)),
            ])
    }

    /// An approval answered (`answer`: allow, allow_always or deny).
    public static func approval(host: String, port: Int?, answer: String) -> AuditRecord {
        AuditRecord(kind: "approval", fields: [("host", bounded(host)), ("port", port.map(JSONValue.int) ?? .null), ("answer", .string(answer))])
    }

    /// A sync's result (`via`: "sync" for `cordon sync`, "auto_sync" for a yolo round). With
    /// `cordon sync --branch`, the branch made and its commit (`applied` then names what the
    /// commit holds); both absent otherwise.
    public static func sync(via: String, applied: [String], held: [String], branch: String? = nil, commit: String? = nil) -> AuditRecord {
        var fields: [(String, JSONValue)] = [
            ("via", .string(via)), ("applied_count", .int(applied.count)), ("held_count", .int(held.count)),
            ("applied", boundedList(applied)), ("held", boundedList(held)),
        ]
        if let branch { fields.append(("branch", bounded(branch))) }
        if let commit { fields.append(("commit", .string(commit))) }
        return AuditRecord(kind: "sync", fields: fields)
    }

    /// Writes to one path of an upper layer during one coalescing window: which events, how many.
    /// `path` is relative to `layer` ("workspace", or a mount's sandbox path), as `RawName.escape`
    /// writes its bytes.
    public static func fileWrite(layer: String, path: [UInt8], events: [String], count: Int, time: String) -> AuditRecord {
        AuditRecord(
            kind: "file_write", time: time,
            fields: [
                ("layer", bounded(layer)), ("path", bounded(RawName.escape(path))), ("events", .array(events.map(JSONValue.string))),
                ("count", .int(count)),
            ])
    }

    /// Writes the watcher could not attribute to a path: more paths in one window than it keeps,
    /// a full kernel queue, or more directories than it may watch.
    public static func fileWriteOverflow(layer: String, reason: String, count: Int) -> AuditRecord {
        AuditRecord(kind: "file_write_overflow", fields: [("layer", bounded(layer)), ("reason", .string(reason)), ("count", .int(count))])
    }

    /// Records the log could not keep (its queue was full): how many, of which kinds.
    public static func dropped(count: Int, kinds: [String]) -> AuditRecord {
        AuditRecord(kind: "dropped", fields: [("count", .int(count)), ("kinds", .array(kinds.map(JSONValue.string)))])
    }
}
