public import CordonConfig
public import CordonCore
public import CordonIsolation
import CordonNet
import Glibc

/// Compiles a profile into the plan cordon-init executes. Pure: no I/O, so every rule about
/// what is visible inside is tested without starting a sandbox.
public struct PlanBuilder: Sendable {
    public struct Request: Sendable {
        public var name: String
        public var workspace: String
        public var command: [String]
        public var terminal: Bool
        public var layout: SandboxLayout
        /// `<state>/profiles/PROFILE/data`.
        public var dataRoot: String
        /// Limits that cgroups could not enforce and rlimits must approximate.
        public var rlimitFallback: Bool
        /// Host path of the pty slave given to the sandbox, bound at /dev/console.
        public var consoleDevice: String?
        /// RLIMIT_FSIZE of every process: no single file larger than the run's disk limit.
        public var fileSizeLimit: UInt64?
        /// RLIMIT_NOFILE of every process in the sandbox (`OpenFilesLimit`); nil: inherited.
        public var openFilesLimit: UInt64?
        /// The sandbox's own /etc/machine-id (32 lowercase hex digits, stable across its runs);
        /// nil leaves the host's hidden behind nothing (tests).
        public var machineID: String?
        /// The run's own boot_id (a random UUID), bound over /proc/sys/kernel/random/boot_id.
        public var bootID: String?
        /// The profile's secrets as the sandbox sees them: variable → placeholder (never a value).
        public var placeholders: [String: String]
        /// The CAs the sandbox trusts when its proxy terminates TLS for bound domains; nil: the host's.
        public var trustBundle: TrustBundleFile?

        public init(
            name: String, workspace: String, command: [String], terminal: Bool, layout: SandboxLayout, dataRoot: String, rlimitFallback: Bool,
            consoleDevice: String? = nil, fileSizeLimit: UInt64? = nil, openFilesLimit: UInt64? = nil, machineID: String? = nil, bootID: String? = nil,
            placeholders: [String: String] = [:], trustBundle: TrustBundleFile? = nil
        ) {
            self.placeholders = placeholders
            self.trustBundle = trustBundle
            self.consoleDevice = consoleDevice
            self.fileSizeLimit = fileSizeLimit
            self.openFilesLimit = openFilesLimit
            self.machineID = machineID
            self.bootID = bootID
            self.name = name
            self.workspace = workspace
            self.command = command
            self.terminal = terminal
            self.layout = layout
            self.dataRoot = dataRoot
            self.rlimitFallback = rlimitFallback
        }
    }

    /// The merged CA bundle (the host's CAs and cordon's): bound over the host's bundle, so tools
    /// that read the system store trust it too, or written to `fallbackPath` when the host has none.
    public struct TrustBundleFile: Sendable, Equatable {
        /// The host's bundle (`/etc/ssl/certs/ca-certificates.crt` on Debian), when it has one.
        public var hostPath: String?
        public var contents: String

        public static let fallbackPath = "/run/cordon-ca-bundle.pem"

        /// Where the sandbox finds it.
        public var path: String { hostPath ?? Self.fallbackPath }
    }

    public static let workspacePath = "/workspace"
    public static let bootIDPath = "/proc/sys/kernel/random/boot_id"
    public static let userName = "agent"

    public var profile: Profile
    public var host: HostFacts

    public init(profile: Profile, host: HostFacts) {
        self.profile = profile
        self.host = host
    }

    /// The sandbox user: the caller's uid when unprivileged, else 1000.
    public var user: SandboxPlan.User {
        let uid = host.uid == 0 ? 1000 : host.uid
        let gid = host.uid == 0 ? 1000 : host.gid
        return SandboxPlan.User(uid: uid, gid: gid, name: Self.userName)
    }

    /// How the profile's `network` setting is built.
    public var network: SandboxPlan.Network {
        switch profile.network {
        case .proxy: return .egress(.standard)
        case .none: return .loopback
        case .host: return .host
        }
    }

    /// Files generated for the sandbox and bound over their /etc counterparts (with `network: host`
    /// the host's resolv.conf stays). Their contents travel in the plan (`.cover` steps): no
    /// host file backs them, so mountinfo inside names no host path.
    public func generatedFiles(hostname: String) -> [String: String] {
        let u = user
        var files = [
            "passwd":
                "root:x:0:0:root:/root:/usr/sbin/nologin\n\(u.name):x:\(u.uid):\(u.gid):cordon sandbox user:\(u.home):/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
            "group": "root:x:0:\n\(u.name):x:\(u.gid):\nnogroup:x:65534:\n",
            "hostname": hostname + "\n",
            "hosts": "127.0.0.1\tlocalhost \(hostname)\n::1\tlocalhost ip6-localhost ip6-loopback\n",
            "resolv.conf":
                "# cordon: names resolve through cordon's DNS stub, which answers only what the profile allows\nnameserver 127.0.0.1\noptions timeout:2 attempts:2\n",
        ]
        if profile.network == .host { files["resolv.conf"] = nil }
        return files
    }

    public func hostname(for name: String) -> String {
        String(name.prefix(63))
    }

    public func build(_ request: Request) -> SandboxPlan {
        let u = user
        let hostname = hostname(for: request.name)
        var steps: [SandboxPlan.Step] = []
        var writable = ["/tmp", "/var/tmp", "/run", "/dev/shm", u.home]

        for dir in HostFacts.systemDirectories {
            switch host.systemEntries[dir] {
            case .directory: steps.append(.bind(source: dir, target: dir, readOnly: true))
            case .symlink(let target): steps.append(.symlink(target: dir, destination: target))
            case nil: break
            }
        }
        // /etc read-only, secrets masked, identity files generated.
        steps.append(.bind(source: "/etc", target: "/etc", readOnly: true))
        for path in SensitivePaths.etc { steps.append(.mask(target: path)) }
        for (file, contents) in generatedFiles(hostname: hostname).sorted(by: { $0.key < $1.key }) where host.etcFiles.contains("/etc/" + file) {
            steps.append(.cover(target: "/etc/" + file, contents: contents, mode: 0o644))
        }
        // The host's identifiers stay the host's: the sandbox has its own.
        if let machineID = request.machineID, host.etcFiles.contains("/etc/machine-id") {
            steps.append(.cover(target: "/etc/machine-id", contents: machineID + "\n", mode: 0o444))
        }

        steps.append(.proc(target: "/proc"))
        if let bootID = request.bootID {
            steps.append(.cover(target: Self.bootIDPath, contents: bootID + "\n", mode: 0o444))
        }
        steps += devSteps()
        steps.append(.tmpfs(target: "/tmp", mode: 0o1777, sizeBytes: tmpSize))
        steps.append(.tmpfs(target: "/run", mode: 0o755, sizeBytes: 64 * 1024 * 1024))
        steps.append(.tmpfs(target: "/var", mode: 0o755, sizeBytes: 64 * 1024 * 1024))
        steps.append(.directory(target: "/var/tmp", mode: 0o1777))
        steps.append(.symlink(target: "/var/run", destination: "/run"))
        steps.append(.tmpfs(target: "/home", mode: 0o755, sizeBytes: 4096 * 16))
        steps.append(.tmpfs(target: u.home, mode: 0o700, sizeBytes: tmpSize))

        // The workspace: overlay (secure, yolo) or the host directory itself (unsafe).
        switch profile.mode {
        case .secure, .yolo:
            steps.append(.overlay(lower: request.workspace, upper: request.layout.upper, work: request.layout.work, target: Self.workspacePath))
        case .unsafe:
            steps.append(.bind(source: request.workspace, target: Self.workspacePath, readOnly: false))
        }
        writable.append(Self.workspacePath)
        for path in maskedInside(hostDirectory: request.workspace, sandboxPath: Self.workspacePath) {
            steps.append(.mask(target: path))
        }

        for (index, mount) in profile.mounts.enumerated() {
            let target = expandHome(mount.sandbox, home: u.home)
            switch mount.mode {
            case .ro: steps.append(.bind(source: mount.host, target: target, readOnly: true))
            case .rw:
                steps.append(.bind(source: mount.host, target: target, readOnly: false))
                writable.append(target)
            case .overlay:
                let dir = request.layout.mountLayer(index)
                steps.append(.overlay(lower: mount.host, upper: dir + "/upper", work: dir + "/work", target: target))
                writable.append(target)
            }
            for path in maskedInside(hostDirectory: mount.host, sandboxPath: target) { steps.append(.mask(target: path)) }
        }
        for data in profile.data {
            let target = expandHome(data.path, home: u.home)
            steps.append(.bind(source: request.dataRoot + "/" + data.name, target: target, readOnly: false))
            writable.append(target)
        }
        for copy in profile.copy {
            steps.append(.copy(source: copy.host, target: expandHome(copy.sandbox, home: u.home), optional: copy.optional))
        }
        if let bundle = request.trustBundle {
            if let hostPath = bundle.hostPath {
                steps.append(.cover(target: hostPath, contents: bundle.contents, mode: 0o444))
            } else {
                steps.append(.file(target: TrustBundleFile.fallbackPath, contents: bundle.contents, mode: 0o444))
            }
        }
        if let console = request.consoleDevice {
            steps.append(.bind(source: console, target: "/dev/console", readOnly: false))
        }
        steps.append(.remountReadOnly(target: "/dev"))

        return SandboxPlan(
            root: request.layout.root, hostname: hostname, steps: steps, user: u, writable: writable,
            writeFiles: ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/pts", "/dev/ptmx", "/dev/console"],
            resourceLimits: resourceLimits(fallback: request.rlimitFallback, fileSize: request.fileSizeLimit, openFiles: request.openFilesLimit),
            unshareCgroup: true,
            command: request.command,
            environment: environment(name: request.name, user: u, placeholders: request.placeholders, trustBundle: request.trustBundle?.path),
            workingDirectory: Self.workspacePath, terminal: request.terminal, network: network
        )
    }

    var tmpSize: UInt64 { min(profile.resources.disk ?? 2 << 30, 8 << 30) }

    func devSteps() -> [SandboxPlan.Step] {
        var steps: [SandboxPlan.Step] = [.tmpfs(target: "/dev", mode: 0o755, sizeBytes: 1 << 20)]
        for node in ["null", "zero", "full", "random", "urandom", "tty"] {
            steps.append(.bind(source: "/dev/" + node, target: "/dev/" + node, readOnly: false))
        }
        steps.append(.devpts(target: "/dev/pts"))
        steps.append(.symlink(target: "/dev/ptmx", destination: "pts/ptmx"))
        steps.append(.tmpfs(target: "/dev/shm", mode: 0o1777, sizeBytes: 256 << 20))
        steps.append(.symlink(target: "/dev/fd", destination: "/proc/self/fd"))
        steps.append(.symlink(target: "/dev/stdin", destination: "/proc/self/fd/0"))
        steps.append(.symlink(target: "/dev/stdout", destination: "/proc/self/fd/1"))
        steps.append(.symlink(target: "/dev/stderr", destination: "/proc/self/fd/2"))
        return steps
    }

    /// Sensitive host paths that lie beneath a directory the profile mounts: hidden inside.
    public func maskedInside(hostDirectory: String, sandboxPath: String) -> [String] {
        let base = hostDirectory.hasSuffix("/") ? String(hostDirectory.dropLast()) : hostDirectory
        let candidates = SensitivePaths.inHome.map { host.home + "/" + $0 } + SensitivePaths.absolute + SensitivePaths.etc
        var result: [String] = []
        for path in candidates where path.hasPrefix(base + "/") && path != host.home {
            result.append(sandboxPath + path.dropFirst(base.count))
        }
        return result
    }

    func resourceLimits(fallback: Bool, fileSize: UInt64? = nil, openFiles: UInt64? = nil) -> [SandboxPlan.ResourceLimit] {
        var limits: [SandboxPlan.ResourceLimit] = [.core(0)]
        if let fileSize { limits.append(.fileSize(fileSize)) }
        if let openFiles { limits.append(.openFiles(openFiles)) }
        guard fallback else { return limits }
        if let pids = profile.resources.pids {
            limits.append(.processes(UInt64(pids)))
        }
        if let memory = profile.resources.memory {
            limits.append(.data(memory))
        }
        return limits
    }

    static let inheritedVariables = ["TERM", "COLORTERM", "TZ", "NO_COLOR"]

    /// The POSIX and glibc locale categories, passed by name only: other `LC_*` variables (ssh
    /// forwards `LC_*` from the client, and people carry arbitrary values in them) stay out.
    static let localeVariables = [
        "LANG", "LANGUAGE", "LC_ALL", "LC_ADDRESS", "LC_COLLATE", "LC_CTYPE", "LC_IDENTIFICATION", "LC_MEASUREMENT", "LC_MESSAGES",
        "LC_MONETARY", "LC_NAME", "LC_NUMERIC", "LC_PAPER", "LC_TELEPHONE", "LC_TIME",
    ]

    /// Whether `value` reads as a locale name (`C`, `POSIX`, `en_US.UTF-8`, `sr_RS@latin`), or for
    /// `LANGUAGE` a colon-separated list of them: letters, digits and `_.@-`, starting with a
    /// letter or digit, at most 64 bytes a name. No `/`: glibc loads a name with one as a path.
    static func isLocaleValue(_ value: String, list: Bool) -> Bool {
        let names = list ? value.split(separator: ":", omittingEmptySubsequences: false) : [Substring(value)]
        guard !value.isEmpty, names.count <= 16 else { return false }
        return names.allSatisfy { name in
            guard let first = name.utf8.first, name.utf8.count <= 64, isAlphanumeric(first) else { return false }
            return name.utf8.allSatisfy {
                isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "@") || $0 == UInt8(ascii: "-")
            }
        }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// Nothing is inherited but a short safe list; the profile's `env` is explicit; a bound
    /// secret's variable holds its placeholder (over an `env` entry of the same name).
    public func environment(name: String, user u: SandboxPlan.User, placeholders: [String: String] = [:], trustBundle: String? = nil) -> [String] {
        var env: [String: String] = [
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": u.home, "USER": u.name, "LOGNAME": u.name, "SHELL": "/bin/bash",
            "CORDON_SANDBOX": name, "TMPDIR": "/tmp",
        ]
        for key in Self.inheritedVariables { if let value = host.environment[key] { env[key] = value } }
        for key in Self.localeVariables {
            if let value = host.environment[key], Self.isLocaleValue(value, list: key == "LANGUAGE") { env[key] = value }
        }
        if case .egress(let capture) = network {
            for (key, value) in Self.proxyEnvironment(port: capture.proxyPort) { env[key] = value }
        }
        for (key, value) in profile.env { env[key] = value }
        for (key, value) in placeholders { env[key] = value }
        // Every common tool pointed at the bundle that trusts cordon's CA (over the profile's env:
        // a client told to trust something else would refuse the bound domains' leaves).
        if let trustBundle { for key in Interception.trustBundleVariables { env[key] = trustBundle } }
        for key in SensitivePaths.environment { env[key] = nil }
        return env.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
    }

    /// Proxy settings for tools that prefer a proxy (traffic is captured without them too).
    static func proxyEnvironment(port: UInt16) -> [String: String] {
        let http = "http://127.0.0.1:\(port)"
        let socks = "socks5h://127.0.0.1:\(port)"
        let local = "localhost,127.0.0.1,::1"
        return [
            "HTTP_PROXY": http, "http_proxy": http, "HTTPS_PROXY": http, "https_proxy": http,
            "ALL_PROXY": socks, "all_proxy": socks, "NO_PROXY": local, "no_proxy": local,
            "npm_config_proxy": http, "npm_config_https_proxy": http, "PIP_PROXY": http,
            "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.proxy", "GIT_CONFIG_VALUE_0": http,
        ]
    }

    func expandHome(_ path: String, home: String) -> String {
        if path == "~" { return home }
        if path.hasPrefix("~/") { return home + path.dropFirst(1) }
        return path
    }
}

extension SandboxLayout {
    /// Upper and work dirs of the `index`th overlay mount of the profile.
    public func mountLayer(_ index: Int) -> String { directory + "/mounts/\(index)" }
}

/// Identifiers a sandbox has instead of the host's.
public enum SandboxIdentifiers {
    /// A random machine-id (systemd's format: 128 bits as 32 lowercase hex digits).
    public static func newMachineID() -> String {
        (0..<2).map { _ in hex(UInt64.random(in: 0...UInt64.max), digits: 16) }.joined()
    }

    /// A random (version 4) UUID, as the kernel prints boot_id.
    public static func newBootID() -> String {
        var high = UInt64.random(in: 0...UInt64.max)
        var low = UInt64.random(in: 0...UInt64.max)
        high = (high & ~0xF000) | 0x4000
        low = (low & ~(0xC000_0000_0000_0000 as UInt64)) | 0x8000_0000_0000_0000
        let h = hex(high, digits: 16), l = hex(low, digits: 16)
        return "\(h.prefix(8))-\(h.dropFirst(8).prefix(4))-\(h.suffix(4))-\(l.prefix(4))-\(l.suffix(12))"
    }

    /// Whether `text` is a machine-id as `newMachineID` makes them.
    public static func isMachineID(_ text: String) -> Bool {
        text.utf8.count == 32 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    private static func hex(_ value: UInt64, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
