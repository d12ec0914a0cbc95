/// A sandbox profile, as written in YAML and after presets are merged.
///
/// Every field is optional in YAML; `Profile.defaults` fills the rest. Field names here are the
/// YAML keys' camel-case forms; YAML uses snake_case (`allow_private`, `max_file_size`).
/// docs/configuration.md documents each field; keep the two in step.
@_exported public import CordonPolicy
public import CordonSecrets
public import CordonUsage

public struct Profile: Sendable, Equatable, Codable {
    public enum Backend: String, Sendable, Codable, CaseIterable { case namespace, vm }
    /// `secure`: overlay, nothing reaches the host until a reviewed sync.
    /// `yolo`: overlay, clean change sets auto-synced every `sync.interval`.
    /// `unsafe`: the workspace is bound read-write (explicit opt-in).
    public enum Mode: String, Sendable, Codable, CaseIterable { case secure, yolo, unsafe }
    /// `proxy`: default-deny egress through cordon's proxy and DNS stub (docs/network.md).
    /// `none`: no egress at all. `host`: the host's network, an explicit opt-out.
    public enum Network: String, Sendable, Codable, CaseIterable { case proxy, none, host }

    public struct Mount: Sendable, Equatable, Codable {
        /// `ro`: read-only. `overlay`: writable, writes kept in the sandbox until a reviewed sync.
        /// `rw`: writes go straight to the host directory.
        public enum Kind: String, Sendable, Codable, CaseIterable { case ro, overlay, rw }
        /// The host directory: absolute once loaded (`~/` expanded against the user's home).
        public var host: String
        /// Where it appears inside: absolute, or `~/…` for the sandbox user's home.
        public var sandbox: String
        /// `ro` unless the profile says otherwise.
        public var mode: Kind = .ro
    }

    /// A persistent per-profile directory, e.g. an agent's `~/.claude`, kept across runs under
    /// the state dir and bound read-write at `path` inside.
    public struct DataDir: Sendable, Equatable, Codable {
        /// The host directory's name: `<state>/profiles/PROFILE/data/NAME`. Defaults to `path`'s
        /// last component without leading dots (`~/.npm` → `npm`).
        public var name: String
        /// The sandbox path it is bound at: absolute, or `~/…` for the sandbox user's home.
        public var path: String
    }

    /// A host file copied in at start, editable inside, never written back.
    public struct Copy: Sendable, Equatable, Codable {
        /// The host file: absolute once loaded (`~/` expanded against the user's home).
        public var host: String
        /// Where the copy is placed inside: absolute, or `~/…` for the sandbox user's home.
        public var sandbox: String
        /// A missing host file is skipped silently when true (e.g. an optional ~/.gitconfig).
        public var optional: Bool = true
    }

    public struct Resources: Sendable, Equatable, Codable {
        /// Bytes; YAML accepts `512m`, `2g`, `1.5G`, plain integers.
        public var memory: UInt64?
        public var cpus: Double?
        public var pids: Int?
        /// Bytes the sandbox may keep in its upper layers on the host (the workspace's and the
        /// overlay mounts'); nil: `defaultDisk`, or half the state filesystem's free space when
        /// that is less. Also caps a single file (RLIMIT_FSIZE).
        public var disk: UInt64?
        /// Entries (inodes: files, directories, links, whiteouts) allowed in those upper layers;
        /// nil: `defaultInodes`, or half the state filesystem's free inodes when that is less.
        public var inodes: UInt64?
        /// Refuse to start when a limit cannot be enforced with cgroups (instead of rlimits).
        public var strict: Bool
        public init(memory: UInt64? = nil, cpus: Double? = nil, pids: Int? = nil, disk: UInt64? = nil, inodes: UInt64? = nil, strict: Bool = false) {
            self.memory = memory
            self.cpus = cpus
            self.pids = pids
            self.disk = disk
            self.inodes = inodes
            self.strict = strict
        }

        /// 10 GiB: a large checkout plus its build output and dependencies fits; a runaway loop
        /// writing at disk speed is stopped within a minute or so, before it fills a typical host.
        public static let defaultDisk: UInt64 = 10 << 30
        /// 1,000,000 entries: a monorepo with node_modules (a few hundred thousand files) fits; an
        /// ext4 root of 256 GB has ~16 million inodes, so no single sandbox exhausts them.
        public static let defaultInodes: UInt64 = 1_000_000

        /// The limits a run enforces: the written values, else the defaults capped at half of what
        /// the state filesystem has free (`freeBytes`/`freeInodes`, nil when it cannot say).
        public func diskLimits(freeBytes: UInt64?, freeInodes: UInt64?) -> (bytes: UInt64, inodes: UInt64) {
            let bytes = disk ?? min(Self.defaultDisk, freeBytes.map { max($0 / 2, 64 << 20) } ?? Self.defaultDisk)
            let files = inodes ?? min(Self.defaultInodes, freeInodes.map { max($0 / 2, 10_000) } ?? Self.defaultInodes)
            return (bytes, files)
        }
    }

    /// The `egress` section: CordonPolicy's configuration itself, so the proxy takes exactly what
    /// the profile says (no mapping layer drops a field on the way).
    public typealias Egress = EgressConfiguration

    /// A keystore entry the agent sees only as a placeholder in `env` (docs/configuration.md).
    /// The proxy swaps the real value in on `domains` only (`SecretInjector`).
    public struct Secret: Sendable, Equatable, Codable {
        public var name: String
        /// Environment variable that receives the placeholder inside (default: `name`).
        public var env: String?
        /// Domains whose requests get the real value swapped in.
        public var domains: [String] = []
        /// How the value goes into a request where the default auth headers do not fit.
        public var inject: SecretInjection?
    }

    /// The sync gate's settings (docs/sync-gate.md).
    public struct Sync: Sendable, Equatable, Codable {
        /// Seconds between automatic syncs in `yolo` mode.
        public var interval: Double
        /// gitignore-syntax globs; when non-empty, only matching paths may sync.
        public var allow: [String]
        public var deny: [String]
        public var blockedExtensions: [String]
        public var maxFileSize: UInt64
        public var maxTotalSize: UInt64
        /// A gitleaks TOML config to scan with instead of cordon's default rules.
        public var gitleaksConfig: String?
        public init(
            interval: Double = 30, allow: [String] = [], deny: [String] = [], blockedExtensions: [String] = [],
            maxFileSize: UInt64 = 10 * 1024 * 1024, maxTotalSize: UInt64 = 1024 * 1024 * 1024, gitleaksConfig: String? = nil
        ) {
            self.interval = interval
            self.allow = allow
            self.deny = deny
            self.blockedExtensions = blockedExtensions
            self.maxFileSize = maxFileSize
            self.maxTotalSize = maxTotalSize
            self.gitleaksConfig = gitleaksConfig
        }
    }

    /// How the sandbox's output reaches the user's terminal (docs/configuration.md, `terminal`).
    public struct Terminal: Sendable, Equatable, Codable {
        /// Which escape sequences the pty relay drops (TerminalFilter in CordonSandbox).
        public enum Filter: String, Sendable, Codable, CaseIterable {
            /// Also drops hyperlinks (OSC 8), title push/pop and the terminal-version query.
            case strict
            /// Drops clipboard, titles, reports, DCS/APC strings, file transfer; keeps OSC 8.
            case standard
            /// Relays every byte raw: the sandbox can write the clipboard and type into its own input.
            case off
        }
        public var filter: Filter
        public init(filter: Filter = .standard) { self.filter = filter }
    }

    /// What `cordon mcp` may do to a sandbox of this profile (docs/configuration.md, `mcp`).
    public struct MCP: Sendable, Equatable, Codable {
        /// The `sync` tool may apply changes (never with findings; dry-run otherwise).
        public var allowApply: Bool
        /// The longest `timeout_seconds` the `exec` tool accepts, in seconds (its default is the
        /// shorter of 120 s and this).
        public var maxExecTimeout: Double
        public static let defaultMaxExecTimeout: Double = 600
        /// The largest cap a profile may set: a day.
        public static let maxExecTimeoutCeiling: Double = 86_400

        public init(allowApply: Bool = false, maxExecTimeout: Double = MCP.defaultMaxExecTimeout) {
            self.allowApply = allowApply
            self.maxExecTimeout = maxExecTimeout
        }

        private enum CodingKeys: String, CodingKey { case allowApply, maxExecTimeout }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            allowApply = try container.decodeIfPresent(Bool.self, forKey: .allowApply) ?? false
            maxExecTimeout = try container.decodeIfPresent(Double.self, forKey: .maxExecTimeout) ?? Self.defaultMaxExecTimeout
        }
    }

    /// The `usage` section: CordonUsage's settings themselves (providers added to the built-in
    /// catalogue, token budgets and their thresholds), as the meter takes them.
    public typealias Usage = UsageSettings

    public var name: String
    public var backend: Backend
    public var mode: Mode
    /// Host directory mounted at /workspace; nil means the current directory.
    public var workspace: String?
    public var mounts: [Mount]
    public var data: [DataDir]
    public var copy: [Copy]
    /// Explicit environment; nothing else is inherited but a short safe list (TERM, LANG, …).
    public var env: [String: String]
    public var resources: Resources
    public var network: Network
    public var egress: Egress
    public var secrets: [Secret]
    public var sync: Sync
    public var terminal: Terminal
    /// Presets composed into this profile, in order (later presets win on scalars).
    public var presets: [String]
    public var usage: Usage
    public var mcp: MCP

    public init(
        name: String = "default", backend: Backend = .namespace, mode: Mode = .secure, workspace: String? = nil,
        mounts: [Mount] = [], data: [DataDir] = [], copy: [Copy] = [], env: [String: String] = [:],
        resources: Resources = Resources(), network: Network = .proxy, egress: Egress = Egress(),
        secrets: [Secret] = [], sync: Sync = Sync(), terminal: Terminal = Terminal(), presets: [String] = [],
        usage: Usage = Usage(), mcp: MCP = MCP()
    ) {
        self.name = name
        self.backend = backend
        self.mode = mode
        self.workspace = workspace
        self.mounts = mounts
        self.data = data
        self.copy = copy
        self.env = env
        self.resources = resources
        self.network = network
        self.egress = egress
        self.secrets = secrets
        self.sync = sync
        self.terminal = terminal
        self.presets = presets
        self.usage = usage
        self.mcp = mcp
    }

    /// The built-in default profile: secure mode, no egress, modest limits.
    public static let defaults = Profile(
        resources: Resources(memory: 4 * 1024 * 1024 * 1024, pids: 1024)
    )
}
