/// A sandbox profile, as written in YAML and after presets are merged.
///
/// Every field is optional in YAML; `Profile.defaults` fills the rest. Field names here are the
/// YAML keys' camel-case forms; YAML uses snake_case (`allow_private`, `max_file_size`).
/// docs/configuration.md documents each field; keep the two in step.
public struct Profile: Sendable, Equatable, Codable {
    public enum Backend: String, Sendable, Codable, CaseIterable { case namespace, vm }
    /// `secure`: overlay, nothing reaches the host until a reviewed sync.
    /// `yolo`: overlay, clean change sets auto-synced every `sync.interval`.
    /// `unsafe`: the workspace is bound read-write (explicit opt-in).
    public enum Mode: String, Sendable, Codable, CaseIterable { case secure, yolo, unsafe }
    /// `proxy`: default-deny egress through cordon's proxy (only `lo` until the network issue lands).
    /// `none`: no egress at all. `host`: the host's network, an explicit opt-out.
    public enum Network: String, Sendable, Codable, CaseIterable { case proxy, none, host }

    public struct Mount: Sendable, Equatable, Codable {
        public enum Kind: String, Sendable, Codable, CaseIterable { case ro, overlay, rw }
        public var host: String
        public var sandbox: String
        public var mode: Kind
        public init(host: String, sandbox: String, mode: Kind = .ro) {
            self.host = host
            self.sandbox = sandbox
            self.mode = mode
        }
    }

    /// A persistent per-profile directory, e.g. an agent's `~/.claude`, kept across runs under
    /// the state dir and bound read-write at `path` inside.
    public struct DataDir: Sendable, Equatable, Codable {
        public var name: String
        public var path: String
        public init(name: String, path: String) {
            self.name = name
            self.path = path
        }
    }

    /// A host file copied in at start, editable inside, never written back.
    public struct Copy: Sendable, Equatable, Codable {
        public var host: String
        public var sandbox: String
        /// A missing host file is skipped silently when true (e.g. an optional ~/.gitconfig).
        public var optional: Bool
        public init(host: String, sandbox: String, optional: Bool = true) {
            self.host = host
            self.sandbox = sandbox
            self.optional = optional
        }
    }

    public struct Resources: Sendable, Equatable, Codable {
        /// Bytes; YAML accepts `512m`, `2g`, `1.5G`, plain integers.
        public var memory: UInt64?
        public var cpus: Double?
        public var pids: Int?
        /// Bytes allowed in the workspace's upper layer.
        public var disk: UInt64?
        /// Refuse to start when a limit cannot be enforced with cgroups (instead of rlimits).
        public var strict: Bool
        public init(memory: UInt64? = nil, cpus: Double? = nil, pids: Int? = nil, disk: UInt64? = nil, strict: Bool = false) {
            self.memory = memory
            self.cpus = cpus
            self.pids = pids
            self.disk = disk
            self.strict = strict
        }
    }

    public struct Egress: Sendable, Equatable, Codable {
        public struct DenyRule: Sendable, Equatable, Codable {
            /// A domain pattern, optionally with `:port` (`github.com:22`, `*.example.com`).
            public var domain: String
            public var reason: String?
            public init(domain: String, reason: String? = nil) {
                self.domain = domain
                self.reason = reason
            }
        }
        public struct ParentProxy: Sendable, Equatable, Codable {
            /// `http://host:port` or `https://host:port` (TLS to the proxy).
            public var url: String
            public var noProxy: [String]
            /// Host path of PEM CA certificates for an `https://` parent (system trust store when nil).
            public var caFile: String?
            public init(url: String, noProxy: [String] = [], caFile: String? = nil) {
                self.url = url
                self.noProxy = noProxy
                self.caFile = caFile
            }
        }
        /// Allowed domain patterns: `example.com`, `*.example.com`, `.example.com`, each optionally `:port`.
        public var domains: [String]
        public var deny: [DenyRule]
        /// CIDRs that may be reached although private (`10.0.0.0/8`, `fd00::/8`).
        public var allowPrivate: [String]
        /// Name → address pins, like curl's --resolve.
        public var resolve: [String: String]
        /// Hold connections to unlisted domains and ask the user.
        public var prompt: Bool
        public var parentProxy: ParentProxy?
        /// Requests per minute, per domain pattern.
        public var rateLimits: [String: Int]
        /// Blocklist files (hosts format or plain domain lists).
        public var blocklists: [String]
        public init(
            domains: [String] = [], deny: [DenyRule] = [], allowPrivate: [String] = [], resolve: [String: String] = [:],
            prompt: Bool = false, parentProxy: ParentProxy? = nil, rateLimits: [String: Int] = [:], blocklists: [String] = []
        ) {
            self.domains = domains
            self.deny = deny
            self.allowPrivate = allowPrivate
            self.resolve = resolve
            self.prompt = prompt
            self.parentProxy = parentProxy
            self.rateLimits = rateLimits
            self.blocklists = blocklists
        }
    }

    /// A credential the agent sees only as a placeholder (the secrets issue fills this in).
    public struct Secret: Sendable, Equatable, Codable {
        public var name: String
        /// Environment variable that receives the placeholder inside.
        public var env: String?
        /// Domains whose requests get the real value swapped in.
        public var domains: [String]
        public init(name: String, env: String? = nil, domains: [String] = []) {
            self.name = name
            self.env = env
            self.domains = domains
        }
    }

    /// The sync gate's settings (the sync-gate issue).
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

    public init(
        name: String = "default", backend: Backend = .namespace, mode: Mode = .secure, workspace: String? = nil,
        mounts: [Mount] = [], data: [DataDir] = [], copy: [Copy] = [], env: [String: String] = [:],
        resources: Resources = Resources(), network: Network = .proxy, egress: Egress = Egress(),
        secrets: [Secret] = [], sync: Sync = Sync(), terminal: Terminal = Terminal(), presets: [String] = []
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
    }

    /// The built-in default profile: secure mode, no egress, modest limits.
    public static let defaults = Profile(
        resources: Resources(memory: 4 * 1024 * 1024 * 1024, pids: 1024)
    )
}
