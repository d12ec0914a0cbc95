import CordonConfig
public import CordonCore
import CordonIsolation
import CordonOS
import Glibc

/// What this host offers cordon, checked for real (a namespace is created, a sandbox is run),
/// with what each missing piece costs and how to fix it.
public struct HostDoctor {
    public struct Check: Sendable, Equatable {
        public enum Status: String, Sendable { case ok, warning, missing }
        public var id: String
        public var status: Status
        public var detail: String
        /// What the user loses without it, and how to fix it (empty when ok).
        public var fix: String
        /// The default profile cannot run without it.
        public var required: Bool
    }

    public let paths: CordonPaths
    public let initPath: String?

    public init(paths: CordonPaths, initPath: String?) {
        self.paths = paths
        self.initPath = initPath
    }

    public func run() -> [Check] {
        var checks = [userNamespaces(), seccomp(), landlock(), cgroups(), disk(), nftables(), kvm()]
        checks.append(defaultSandbox())
        return checks
    }

    /// Whether the default profile can run here.
    public static func canRunDefault(_ checks: [Check]) -> Bool {
        checks.allSatisfy { !$0.required || $0.status != .missing }
    }

    static func readTrimmed(_ path: String) -> String? {
        guard let bytes = try? FileIO.readFile(path, limit: 4096) else { return nil }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").first.map(String.init)
    }

    func userNamespaces() -> Check {
        var notes: [String] = []
        if let max = Self.readTrimmed("/proc/sys/user/max_user_namespaces") { notes.append("max_user_namespaces=\(max)") }
        if let clone = Self.readTrimmed("/proc/sys/kernel/unprivileged_userns_clone") { notes.append("unprivileged_userns_clone=\(clone)") }
        let apparmor = Self.readTrimmed("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")
        if let apparmor { notes.append("apparmor_restrict_unprivileged_userns=\(apparmor)") }
        guard case .failure(let failure) = probe("/bin/true", ["true"], namespaces: NamespaceSet.all.subtracting(.cgroup), mapped: false) else {
            return Check(
                id: "user-namespaces", status: .ok, detail: "user, mount, pid, ipc, uts and net namespaces can be created (\(notes.joined(separator: ", ")))",
                fix: "", required: true)
        }
        var fix = "cordon cannot isolate anything without user namespaces."
        if apparmor == "1" {
            fix += " AppArmor restricts them: `sysctl kernel.apparmor_restrict_unprivileged_userns=0`, or add an AppArmor profile allowing `userns` for cordon."
        } else if Self.readTrimmed("/proc/sys/kernel/unprivileged_userns_clone") == "0" {
            fix += " Enable them: `sysctl kernel.unprivileged_userns_clone=1`."
        } else if Self.readTrimmed("/proc/sys/user/max_user_namespaces") == "0" {
            fix += " Enable them: `sysctl user.max_user_namespaces=15000`."
        } else {
            fix += " Check seccomp/container restrictions of the environment cordon runs in."
        }
        return Check(
            id: "user-namespaces", status: .missing, detail: "clone3 failed: \(failure.errnoText) (\(notes.joined(separator: ", ")))", fix: fix, required: true)
    }

    /// Runs `path` in new `namespaces` (root inside mapped to the caller when `mapped`) and waits
    /// for it: the real test, not a sysctl guess. Its exit status, or why it could not start.
    func probe(_ path: String, _ arguments: [String], namespaces: NamespaceSet, mapped: Bool) -> Result<Int32, SystemError> {
        do throws(SystemError) {
            let process = try SpawnedProcess.start(path: path, arguments: arguments, environment: [], descriptors: [0, 1, 2], namespaces: namespaces)
            do throws(SystemError) {
                if mapped { try process.mapIdentity(outsideUid: getuid(), outsideGid: getgid()) }
                try process.release()
            } catch {
                process.abandon()
                throw error
            }
            defer { close(process.pidfd) }
            return .success(process.waitStatus())
        } catch {
            return .failure(error)
        }
    }

    func seccomp() -> Check {
        let status = (try? FileIO.readFile("/proc/self/status")).map { String(decoding: $0, as: UTF8.self) } ?? ""
        if status.contains("Seccomp:") {
            return Check(id: "seccomp", status: .ok, detail: "seccomp filters available (libseccomp linked)", fix: "", required: true)
        }
        return Check(
            id: "seccomp", status: .missing, detail: "kernel without seccomp",
            fix: "cordon refuses to run without a syscall filter; use a kernel built with CONFIG_SECCOMP_FILTER.", required: true)
    }

    func landlock() -> Check {
        let abi = Hardening.landlockABI
        if abi >= 1 {
            var detail = "Landlock ABI \(abi)"
            if abi < 6 { detail += " (no signal/abstract-socket scoping before ABI 6)" }
            return Check(
                id: "landlock", status: abi >= 3 ? .ok : .warning, detail: detail, fix: abi >= 3 ? "" : "Upgrade the kernel (≥ 6.2) for truncate control.",
                required: true)
        }
        return Check(
            id: "landlock", status: .missing, detail: "Landlock unavailable",
            fix: "cordon refuses to run without Landlock: boot with `lsm=landlock,…` (CONFIG_SECURITY_LANDLOCK=y), kernel ≥ 5.13.", required: true)
    }

    func cgroups() -> Check {
        guard let version = Cgroup.hostVersion else {
            return Check(
                id: "cgroups", status: .warning, detail: "no cgroup hierarchy mounted",
                fix: "Memory and pids are limited with rlimits only, CPU not at all; `resources.strict: true` refuses to run.", required: false)
        }
        let name = "doctor-\(getpid())"
        do {
            let group = try Cgroup.create(name: name, limits: .init(memoryBytes: 64 << 20, cpus: 1, pids: 64))
            group.remove()
            return Check(id: "cgroups", status: .ok, detail: "cgroup \(version.rawValue): memory, pids and cpu limits can be set", fix: "", required: false)
        } catch {
            return Check(
                id: "cgroups", status: .warning, detail: "cgroup \(version.rawValue) present but not delegated to this user (\(error))",
                fix:
                    "Memory and pids fall back to rlimits, a profile with `resources.cpus` does not start (a CPU limit has no fallback), and `resources.strict: true` refuses to run. Delegate a cgroup (systemd: `systemd-run --user -p Delegate=yes --scope cordon …`).",
                required: false)
        }
    }

    /// How `resources.disk` / `resources.inodes` are enforced on this host (see DiskWatch).
    func disk() -> Check {
        var fs = statvfs()
        var dir = paths.stateHome
        while statvfs(dir, &fs) != 0, let slash = dir.lastIndex(of: "/"), slash != dir.startIndex { dir = String(dir[..<slash]) }
        let freeBytes = UInt64(fs.f_bavail) * UInt64(fs.f_frsize)
        let freeInodes: UInt64? = fs.f_files > 0 ? UInt64(fs.f_favail) : nil
        let limits = Profile.Resources().diskLimits(freeBytes: freeBytes, freeInodes: freeInodes)
        let freezer =
            Cgroup.hostVersion == .v2
            ? "cgroup v2 freezer when the sandbox has a cgroup, else SIGSTOP of its processes" : "SIGSTOP of its processes (cgroup v1: no freezer used)"
        let detail =
            "watched limit: the supervisor measures the overlay upper layers in \(paths.stateHome) and freezes the sandbox at the limit (\(freezer)); "
            + "RLIMIT_FSIZE caps any single file at the limit. Default here: \(DiskWatch.mebibytes(limits.bytes)) and \(limits.inodes) entries "
            + "(10 GiB and 1000000, or half of the \(DiskWatch.mebibytes(freeBytes)) and \(freeInodes.map(String.init) ?? "unlimited") inodes free there, whichever is less)"
        return Check(
            id: "disk", status: .ok, detail: detail,
            fix:
                "No hard limit: what the agent writes within one measurement period (0.1 s, shorter when it grows fast, longer for a large upper layer) can pass the limit; keep the state dir on a filesystem with room to spare.",
            required: false)
    }

    /// The capture's nftables rules loaded for real, by cordon-init in throwaway user and network
    /// namespaces (the kernel's nf_tables with NAT, redirect, conntrack and counter objects).
    func nftables() -> Check {
        let missing =
            "The egress capture needs nf_tables with NAT (CONFIG_NF_TABLES, CONFIG_NFT_NAT, CONFIG_NFT_REDIR, CONFIG_NFT_CT, CONFIG_NFT_OBJREF). Without it a sandbox with `network: proxy` gets no network (only `lo`)."
        guard let initPath else {
            return Check(id: "nftables", status: .warning, detail: "cordon-init not found, the rules could not be tried", fix: missing, required: false)
        }
        switch probe(initPath, ["cordon-init", CaptureInstaller.probeArgument], namespaces: [.user, .mount, .pid, .net], mapped: true) {
        case .success(0):
            return Check(
                id: "nftables", status: .ok, detail: "the capture's nftables rules load in a sandbox's network namespace (netlink, no nft needed)", fix: "",
                required: false)
        case .success(let status):
            return Check(
                id: "nftables", status: .warning, detail: "the capture's nftables rules do not load: \(String(cString: strerror(status)))", fix: missing,
                required: false)
        case .failure(let error):
            return Check(id: "nftables", status: .warning, detail: "the probe could not start: \(error)", fix: missing, required: false)
        }
    }

    func kvm() -> Check {
        let fd = open("/dev/kvm", O_RDWR | O_CLOEXEC)
        if fd >= 0 {
            close(fd)
            return Check(id: "kvm", status: .ok, detail: "/dev/kvm opens (the microVM backend can try KVM; it falls back to TCG)", fix: "", required: false)
        }
        return Check(
            id: "kvm", status: .warning, detail: "/dev/kvm unavailable: \(String(cString: strerror(errno)))",
            fix: "The microVM backend would run under TCG (slow). Add the user to the kvm group.", required: false)
    }

    /// Runs /bin/true in a real default-profile sandbox in a scratch workspace and state dir.
    func defaultSandbox() -> Check {
        guard let initPath else {
            return Check(
                id: "default-sandbox", status: .missing, detail: "cordon-init not found", fix: "Build it (`swift build`) or set CORDON_INIT.", required: true)
        }
        var template = Array("/tmp/cordon-doctor-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            return Check(id: "default-sandbox", status: .missing, detail: "cannot create a scratch directory", fix: "Make /tmp writable.", required: true)
        }
        let scratch = String(cString: made)
        defer { Self.removeTree(scratch) }
        try? FileIO.makeDirectories(scratch + "/workspace")
        let scratchPaths = CordonPaths(configHome: scratch + "/config", stateHome: scratch + "/state")
        var profile = Profile.defaults
        profile.resources.strict = false
        let runner = SandboxRunner(profile: profile, paths: scratchPaths, warn: { _ in })
        do {
            let outcome = try runner.run(
                .init(
                    name: "doctor", workspace: scratch + "/workspace", command: ["/bin/true"], initPath: initPath, profileSource: "builtin:default",
                    allowTerminal: false))
            if outcome.exitStatus == 0 {
                return Check(
                    id: "default-sandbox", status: .ok,
                    detail: "the default profile runs (overlay workspace, seccomp, Landlock; limits via \(outcome.limitsEnforcement))", fix: "", required: true)
            }
            return Check(
                id: "default-sandbox", status: .missing, detail: "/bin/true exited \(outcome.exitStatus) in the default sandbox", fix: "See the checks above.",
                required: true)
        } catch {
            return Check(
                id: "default-sandbox", status: .missing, detail: error.message + (error.cause.map { " (\($0))" } ?? ""),
                fix: "Overlay in a user namespace needs Linux ≥ 5.11; see the checks above.", required: true)
        }
    }

    /// rm -rf without following symlinks (scratch dirs only).
    static func removeTree(_ path: String) {
        if FileIO.kind(path, followSymlinks: false) == .directory, let names = DirectoryListing.names(at: path) {
            for name in names { removeTree(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}
