public import CordonCore

/// One line of a sandbox's `events.jsonl`: when, which sandbox, and what happened. Written by
/// `JSONLinesWriter.append(_:)` (keys in a fixed order: `time`, `event`, `sandbox`, then the
/// event's own), read back with any JSON decoder (`Codable`, the same snake_case keys).
public struct SandboxEvent: Sendable, Equatable, Codable {
    /// RFC 3339, UTC.
    public var time: String
    public var sandbox: String
    public var kind: Kind

    public init(sandbox: String, _ kind: Kind, time: String = WallClock.rfc3339()) {
        self.time = time
        self.sandbox = sandbox
        self.kind = kind
    }

    public enum Kind: Sendable, Equatable {
        /// Everything is in place; the sandbox's command is about to run.
        case start(Start)
        /// The network's state: "proxied", "unavailable: …", a restart of the proxy…
        case network(state: String)
        /// The run stopped before the command ran.
        case setupFailed(error: String)
        /// The sandbox's init exited.
        case exit(Exit)
        /// The sandbox reached `resources.disk` / `resources.inodes` and was frozen.
        case diskLimit(DiskLimit)
        /// A yolo-mode automatic sync round that did something, or could not.
        case sync(Sync)
        /// A sandbox brought `up` is ready: its detached supervisor serves `cordon exec`.
        case up(supervisorPID: Int)
        /// A sandbox brought `up` stopped (`cordon down`, or its init exited): `status` is init's.
        case down(status: Int)
        /// A command `cordon exec` ran in it, and its exit status (126/127: it could not run).
        case exec(argv: [String], exit: Int)

        /// The `event` field.
        public var name: String {
            switch self {
            case .start: "start"
            case .network: "network"
            case .setupFailed: "setup_failed"
            case .exit: "exit"
            case .diskLimit: "disk_limit"
            case .sync: "sync"
            case .up: "up"
            case .down: "down"
            case .exec: "exec"
            }
        }
    }

    public struct Start: Sendable, Equatable, Codable {
        /// Where the profile came from (a path, or a preset's name).
        public var profile: String
        public var mode: String
        public var workspace: String
        public var command: [String]
        /// `LimitsEnforcement`'s description.
        public var limits: String
        public var landlockABI: Int
        public var network: String
        public var diskLimitBytes: Int
        public var inodeLimit: Int

        enum CodingKeys: String, CodingKey {
            case profile, mode, workspace, command, limits, network
            case landlockABI = "landlock_abi"
            case diskLimitBytes = "disk_limit_bytes"
            case inodeLimit = "inode_limit"
        }

        var fields: [(String, JSONValue)] {
            [
                ("profile", .string(profile)), ("mode", .string(mode)), ("workspace", .string(workspace)),
                ("command", .array(command.map { .string($0) })), ("limits", .string(limits)), ("landlock_abi", .int(landlockABI)),
                ("network", .string(network)), ("disk_limit_bytes", .int(diskLimitBytes)), ("inode_limit", .int(inodeLimit)),
            ]
        }
    }

    public struct Exit: Sendable, Equatable, Codable {
        /// The exit status (128 + signal when killed).
        public var status: Int
        /// Milliseconds from the start of the run to init's exit (monotonic clock).
        public var durationMS: Int
        /// Processes the kernel's OOM killer ended in the sandbox's cgroup (0 without one).
        public var oomKills: Int
        /// VmHWM of the supervisor (the proxy included).
        public var supervisorPeakRSSKB: Int

        enum CodingKeys: String, CodingKey {
            case status
            case durationMS = "duration_ms"
            case oomKills = "oom_kills"
            case supervisorPeakRSSKB = "supervisor_peak_rss_kb"
        }

        var fields: [(String, JSONValue)] {
            [("status", .int(status)), ("duration_ms", .int(durationMS)), ("oom_kills", .int(oomKills)), ("supervisor_peak_rss_kb", .int(supervisorPeakRSSKB))]
        }
    }

    public struct DiskLimit: Sendable, Equatable, Codable {
        public var bytes: Int
        public var inodes: Int
        public var limitBytes: Int
        public var limitInodes: Int
        /// "cgroup freezer", "SIGSTOP", "killed: …" or "not frozen: …".
        public var frozenBy: String
        public var reason: String

        enum CodingKeys: String, CodingKey {
            case bytes, inodes, reason
            case limitBytes = "limit_bytes"
            case limitInodes = "limit_inodes"
            case frozenBy = "frozen_by"
        }

        var fields: [(String, JSONValue)] {
            [
                ("bytes", .int(bytes)), ("inodes", .int(inodes)), ("limit_bytes", .int(limitBytes)), ("limit_inodes", .int(limitInodes)),
                ("frozen_by", .string(frozenBy)), ("reason", .string(reason)),
            ]
        }
    }

    /// A round of the automatic sync (`applied`, `held`, `rules`, `raced`), or why there was
    /// none (`state` "unavailable" or "failed", and `error`).
    public enum Sync: Sendable, Equatable, Codable {
        case round(applied: [String], held: [String], rules: [String], raced: Bool)
        /// The gate could not be built: nothing is applied during this run.
        case unavailable(error: String)
        /// This round failed: nothing of it was applied.
        case failed(error: String)

        enum CodingKeys: String, CodingKey { case applied, held, rules, raced, state, error }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            if let state = try c.decodeIfPresent(String.self, forKey: .state) {
                let error = try c.decode(String.self, forKey: .error)
                switch state {
                case "unavailable": self = .unavailable(error: error)
                case "failed": self = .failed(error: error)
                default: throw DecodingError.dataCorruptedError(forKey: .state, in: c, debugDescription: "unknown sync state \"\(state)\"")
                }
                return
            }
            self = .round(
                applied: try c.decode([String].self, forKey: .applied), held: try c.decode([String].self, forKey: .held),
                rules: try c.decode([String].self, forKey: .rules), raced: try c.decode(Bool.self, forKey: .raced))
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            switch self {
            case .round(let applied, let held, let rules, let raced):
                try c.encode(applied, forKey: .applied)
                try c.encode(held, forKey: .held)
                try c.encode(rules, forKey: .rules)
                try c.encode(raced, forKey: .raced)
            case .unavailable(let error):
                try c.encode("unavailable", forKey: .state)
                try c.encode(error, forKey: .error)
            case .failed(let error):
                try c.encode("failed", forKey: .state)
                try c.encode(error, forKey: .error)
            }
        }

        var fields: [(String, JSONValue)] {
            switch self {
            case .round(let applied, let held, let rules, let raced):
                [
                    ("applied", .array(applied.map { .string($0) })), ("held", .array(held.map { .string($0) })),
                    ("rules", .array(rules.map { .string($0) })), ("raced", .bool(raced)),
                ]
            case .unavailable(let error): [("state", .string("unavailable")), ("error", .string(error))]
            case .failed(let error): [("state", .string("failed")), ("error", .string(error))]
            }
        }
    }

    /// The line's fields, in the order written.
    public var fields: [(String, JSONValue)] {
        let own: [(String, JSONValue)] =
            switch kind {
            case .start(let start): start.fields
            case .network(let state): [("state", .string(state))]
            case .setupFailed(let error): [("error", .string(error))]
            case .exit(let exit): exit.fields
            case .diskLimit(let limit): limit.fields
            case .sync(let sync): sync.fields
            case .up(let pid): [("supervisor_pid", .int(pid))]
            case .down(let status): [("status", .int(status))]
            case .exec(let argv, let exit): [("argv", .array(argv.map { .string($0) })), ("exit", .int(exit))]
            }
        return [("time", .string(time)), ("event", .string(kind.name)), ("sandbox", .string(sandbox))] + own
    }

    enum CodingKeys: String, CodingKey {
        case time, event, sandbox, state, error, status, argv, exit
        case supervisorPID = "supervisor_pid"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        time = try c.decode(String.self, forKey: .time)
        sandbox = try c.decode(String.self, forKey: .sandbox)
        let event = try c.decode(String.self, forKey: .event)
        switch event {
        case "start": kind = .start(try Start(from: decoder))
        case "network": kind = .network(state: try c.decode(String.self, forKey: .state))
        case "setup_failed": kind = .setupFailed(error: try c.decode(String.self, forKey: .error))
        case "exit": kind = .exit(try Exit(from: decoder))
        case "disk_limit": kind = .diskLimit(try DiskLimit(from: decoder))
        case "sync": kind = .sync(try Sync(from: decoder))
        case "up": kind = .up(supervisorPID: try c.decode(Int.self, forKey: .supervisorPID))
        case "down": kind = .down(status: try c.decode(Int.self, forKey: .status))
        case "exec": kind = .exec(argv: try c.decode([String].self, forKey: .argv), exit: try c.decode(Int.self, forKey: .exit))
        default: throw DecodingError.dataCorruptedError(forKey: .event, in: c, debugDescription: "unknown event \"\(event)\"")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(time, forKey: .time)
        try c.encode(kind.name, forKey: .event)
        try c.encode(sandbox, forKey: .sandbox)
        switch kind {
        case .start(let start): try start.encode(to: encoder)
        case .network(let state): try c.encode(state, forKey: .state)
        case .setupFailed(let error): try c.encode(error, forKey: .error)
        case .exit(let exit): try exit.encode(to: encoder)
        case .diskLimit(let limit): try limit.encode(to: encoder)
        case .sync(let sync): try sync.encode(to: encoder)
        case .up(let pid): try c.encode(pid, forKey: .supervisorPID)
        case .down(let status): try c.encode(status, forKey: .status)
        case .exec(let argv, let exit):
            try c.encode(argv, forKey: .argv)
            try c.encode(exit, forKey: .exit)
        }
    }
}

extension JSONLinesWriter {
    /// Appends `event` as one line of the event log.
    public func append(_ event: SandboxEvent) {
        append(pairs: event.fields)
    }
}
