import Glibc

/// Everything cordon-init needs to build a sandbox, computed by the supervisor (a pure
/// function of the profile and the host) and handed to init as JSON on descriptor 3.
///
/// Paths in `steps` targets are sandbox paths (absolute, as seen inside); init prefixes the new
/// root. Sources are host paths, resolved before `pivot_root`.
public struct SandboxPlan: Sendable, Codable, Equatable {
    public enum Step: Sendable, Codable, Equatable {
        case directory(target: String, mode: UInt32)
        case tmpfs(target: String, mode: UInt32, sizeBytes: UInt64?)
        /// A bind of a host file or directory. Read-only binds keep the kernel's locked flags.
        case bind(source: String, target: String, readOnly: Bool)
        case overlay(lower: String, upper: String, work: String, target: String)
        case proc(target: String)
        case devpts(target: String)
        case symlink(target: String, destination: String)
        /// A file written with `contents` (generated passwd, hosts, resolv.conf…).
        case file(target: String, contents: String, mode: UInt32)
        /// A host file copied in (editable inside, never written back).
        case copy(source: String, target: String, optional: Bool)
        /// A read-only file holding `contents` bound over the existing `target`. Written into a
        /// tmpfs that init creates attached nowhere, so mountinfo inside names no host path for it
        /// (the generated /etc files, machine-id, boot_id).
        case cover(target: String, contents: String, mode: UInt32)
        /// Hide whatever is at `target` (an empty read-only file or directory over it).
        case mask(target: String)
        case remountReadOnly(target: String)
    }

    /// Who the agent runs as inside (mapped to the caller's uid and gid outside).
    public struct User: Sendable, Codable, Equatable {
        /// The uid inside the sandbox's user namespace.
        public var uid: UInt32
        /// The gid inside the sandbox's user namespace.
        public var gid: UInt32
        /// The login name in the generated passwd and group files.
        public var name: String
        /// The home directory (a sandbox path) in passwd, and `HOME`.
        public var home: String
    }

    /// An rlimit init sets, soft and hard alike, before it runs the command.
    public struct ResourceLimit: Sendable, Codable, Equatable {
        /// The `RLIMIT_*` number.
        public var resource: Int32
        /// Its short name (`core`, `fsize`, `nproc`, `data`), so a plan reads without the numbers.
        public var name: String
        /// The limit, in the resource's own unit (bytes, or processes for `nproc`).
        public var value: UInt64
    }

    /// How the sandbox reaches the network.
    public enum Network: Sendable, Codable, Equatable {
        /// Only `lo` (`network: none`).
        case loopback
        /// The host's own network namespace (`network: host`, an explicit opt-out).
        case host
        /// Transparent capture: every outbound flow goes to the supervisor's egress proxy.
        case egress(EgressCapture)
    }

    /// The capture inside the sandbox's network namespace: a veth pair whose both ends stay
    /// inside (so there is a default route), nftables rules redirecting TCP to the relay
    /// listener, UDP 53 to the DNS listener and other UDP to a sink; everything else dropped.
    /// The listeners are created by init and handed to the supervisor (descriptor 6).
    public struct EgressCapture: Sendable, Codable, Equatable {
        public var relayPort: UInt16
        public var proxyPort: UInt16
        public var dnsPort: UInt16
        public var sinkPort: UInt16
        /// Address of the veth end that carries the default route, and of its peer (the gateway).
        public var address: String
        public var gateway: String

        public init(
            relayPort: UInt16 = 15001, proxyPort: UInt16 = 3128, dnsPort: UInt16 = 53, sinkPort: UInt16 = 15002,
            address: String = "10.200.0.1", gateway: String = "10.200.0.2"
        ) {
            self.relayPort = relayPort
            self.proxyPort = proxyPort
            self.dnsPort = dnsPort
            self.sinkPort = sinkPort
            self.address = address
            self.gateway = gateway
        }

        public static let standard = EgressCapture()
    }

    /// Host directory (empty) on which the new root's tmpfs is mounted.
    public var root: String
    /// Host paths (sources of `.bind` steps, lowers of `.overlay` steps, directories holding an
    /// overlay's upper and work) that the supervisor opened itself and hands over as detached
    /// mounts, their descriptors in this order with the plan. Run as root, init is an unprivileged
    /// host user that may not reach them; a workspace or read-write mount arrives idmapped, its
    /// owner shown as the sandbox's user.
    public var trees: [String] = []
    public var hostname: String
    public var steps: [Step]
    public var user: User
    /// Paths (inside) where the agent may create, change and delete files.
    public var writable: [String]
    /// Existing files (inside) the agent may write but not create or delete (/dev/null, …).
    public var writeFiles: [String]
    public var resourceLimits: [ResourceLimit]
    public var unshareCgroup: Bool
    public var command: [String]
    public var environment: [String]
    public var workingDirectory: String
    /// stdin/stdout/stderr are a pty slave: make it the agent's controlling terminal.
    public var terminal: Bool
    public var network: Network
    /// A sandbox brought `up`: no command; init stays as PID 1, reaps, and runs the commands the
    /// supervisor asks for on its exec channel (`ExecWire`), which comes after the trees.
    public var idle: Bool = false

    public init(
        root: String, hostname: String, steps: [Step], user: User, writable: [String], writeFiles: [String],
        resourceLimits: [ResourceLimit], unshareCgroup: Bool, command: [String], environment: [String],
        workingDirectory: String, terminal: Bool, network: Network = .loopback
    ) {
        self.network = network
        self.root = root
        self.hostname = hostname
        self.steps = steps
        self.user = user
        self.writable = writable
        self.writeFiles = writeFiles
        self.resourceLimits = resourceLimits
        self.unshareCgroup = unshareCgroup
        self.command = command
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.terminal = terminal
    }

    /// Descriptors cordon-init receives: 0–2 stdio, then these.
    public static let planDescriptor: Int32 = 3
    public static let errorDescriptor: Int32 = 4
    /// One byte arrives here once the supervisor has put init in the sandbox's cgroup; init
    /// builds the root meanwhile and waits for it before anything untrusted runs.
    public static let limitsDescriptor: Int32 = 5
    /// A unix socket: init sends the capture's listeners here (relay, proxy, DNS, sink), or a
    /// one-line reason when the capture could not be installed and the sandbox has only `lo`.
    public static let networkDescriptor: Int32 = 6
    /// Exit status of init when the sandbox could not be built (the command never ran).
    public static let setupFailedStatus: Int32 = 125
    /// The most detached mounts a plan may come with.
    public static let maxTrees = 16
}

extension SandboxPlan.User {
    /// A login user whose home is `/home/NAME`.
    public init(uid: UInt32, gid: UInt32, name: String) {
        self.init(uid: uid, gid: gid, name: name, home: "/home/" + name)
    }
}

/// The rlimits a plan sets, each with its number and short name together.
extension SandboxPlan.ResourceLimit {
    /// Core dump size: 0 keeps the agent's memory out of core files.
    public static func core(_ bytes: UInt64) -> Self { .init(resource: Int32(RLIMIT_CORE.rawValue), name: "core", value: bytes) }
    /// Largest file a process may write (the disk limit's backstop).
    public static func fileSize(_ bytes: UInt64) -> Self { .init(resource: Int32(RLIMIT_FSIZE.rawValue), name: "fsize", value: bytes) }
    /// Processes of the sandbox user (where no pids cgroup counts them).
    public static func processes(_ count: UInt64) -> Self { .init(resource: Int32(__RLIMIT_NPROC.rawValue), name: "nproc", value: count) }
    /// Open files of each process (so the sandbox's processes together hold at most a share of
    /// the host's file table: `OpenFilesLimit`).
    public static func openFiles(_ count: UInt64) -> Self { .init(resource: Int32(RLIMIT_NOFILE.rawValue), name: "nofile", value: count) }
    /// Data segment size (where no memory cgroup limits it).
    public static func data(_ bytes: UInt64) -> Self { .init(resource: Int32(RLIMIT_DATA.rawValue), name: "data", value: bytes) }
}
