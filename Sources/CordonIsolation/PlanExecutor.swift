import CCordon
public import CordonOS
import Glibc

/// Builds the sandbox described by a plan, from inside the new namespaces (cordon-init).
/// Every step is fail-closed: the first error aborts and the command never runs.
public struct PlanExecutor {
    public let plan: SandboxPlan

    public init(plan: SandboxPlan) { self.plan = plan }

    /// Mounts, pivot_root, hostname, loopback, the agent's user namespace, then the guards.
    public func buildSandbox() throws(SystemError) {
        try Hardening.setParentDeathSignal(SIGKILL)
        try Mount.makeRootPrivate()
        let capturing = try startCapture()
        try Mount.tmpfs(plan.root, mode: 0o755)
        for step in plan.steps { try apply(step) }
        try Mount.pivotRoot(plan.root)
        try Mount.remountReadOnly("/")
        guard sethostname(plan.hostname, plan.hostname.utf8.count) == 0 else { throw .current("sethostname") }
        switch plan.network {
        case .host:
            break
        case .loopback:
            try check("bring up lo", nil, ccordon_loopback_up())
        case .egress:
            try finishCapture(capturing)
        }
        try waitForLimits()
        // After joining the cgroup, so the namespace's root is the sandbox's own cgroup.
        if plan.unshareCgroup { try NamespaceSet.unshare(.cgroup) }
        try enterAgentUserNamespace()
        for limit in plan.resourceLimits {
            try Hardening.setResourceLimit(limit.resource, soft: limit.value, hard: limit.value)
        }
        try Hardening.setNoNewPrivileges()
        try Hardening.applyLandlock(writable: plan.writable, writeFiles: plan.writeFiles)
        try Hardening.dropAllCapabilities()
        try Hardening.installSeccompFilter()
    }

    private func inside(_ path: String) -> String { plan.root + path }

    /// With a captured network: `lo` up and IPv6 off here, then a child installs the capture
    /// (rules, then link and listeners, handed to the supervisor; netlink messages and sockets,
    /// no file-system paths) while this process builds the root: the two share nothing but the
    /// network namespace. Its pid, or nil without a capture.
    private func startCapture() throws(SystemError) -> pid_t? {
        guard case .egress(let capture) = plan.network else { return nil }
        try check("bring up lo", nil, ccordon_loopback_up())
        CaptureInstaller.disableIPv6()
        // This process is single-threaded: the child may run Swift code.
        let child = fork()
        guard child >= 0 else { throw .current("fork the capture installer") }
        if child == 0 {
            let outcome = CaptureInstaller(capture: capture).install()
            do throws(SystemError) { try CaptureInstaller.report(outcome, to: SandboxPlan.networkDescriptor) } catch {
                let text = "\(error)\n"
                _ = text.withCString { write(SandboxPlan.errorDescriptor, $0, strlen($0)) }
                _exit(1)
            }
            _exit(0)
        }
        close(SandboxPlan.networkDescriptor)
        return child
    }

    /// Waits for the capture's child: the listeners are with the supervisor (or it was told why
    /// there are none). Its failure to say either stops the sandbox.
    private func finishCapture(_ child: pid_t?) throws(SystemError) {
        guard let child else { return }
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 {
            guard errno == EINTR else { throw .current("wait for the capture installer") }
        }
        guard status == 0 else { throw SystemError("install the egress capture", nil, errno: ECHILD) }
    }

    /// Blocks until the supervisor releases the limits (EOF without that: it could not apply
    /// them), then joins the sandbox's cgroup through the v1 `tasks` files it handed over: this
    /// thread moving itself skips the global lock, and its RCU grace period, that moving a process
    /// from outside takes. (v2: the supervisor has moved this process already; no files.)
    private func waitForLimits() throws(SystemError) {
        var fds = [Int32](repeating: -1, count: 16)
        var count: Int32 = 0
        var byte: UInt8 = 0
        let n = fds.withUnsafeMutableBufferPointer { f in
            ccordon_recv_fds(SandboxPlan.limitsDescriptor, f.baseAddress, Int32(f.count), &count, &byte, 1)
        }
        close(SandboxPlan.limitsDescriptor)
        let joinFiles = fds.prefix(Int(max(count, 0)))
        defer { joinFiles.forEach { close($0) } }
        guard n == 1 else { throw SystemError("wait for resource limits (the supervisor could not apply them)", nil, errno: ECANCELED) }
        for (index, fd) in joinFiles.enumerated() {
            var written: Int
            repeat { written = write(fd, "0", 1) } while written < 0 && errno == EINTR
            guard written == 1 else { throw SystemError.current("join the sandbox's cgroup (hierarchy \(index + 1) of \(joinFiles.count))") }
        }
    }

    private func apply(_ step: SandboxPlan.Step) throws(SystemError) {
        switch step {
        case .directory(let target, let mode):
            try FileIO.makeDirectories(inside(target), mode: mode_t(mode))
        case .tmpfs(let target, let mode, let size):
            try FileIO.makeDirectories(inside(target))
            try Mount.tmpfs(inside(target), mode: mode, sizeBytes: size)
        case .bind(let source, let target, let readOnly):
            try makeMountPoint(inside(target), like: source)
            try Mount.bind(source, inside(target), readOnly: readOnly)
        case .overlay(let lower, let upper, let work, let target):
            try FileIO.makeDirectories(inside(target))
            // Volatile: unmounting it must not sync the host's whole filesystem (the supervisor
            // syncs the upper layer itself, when the run wrote to it).
            try Mount.overlay(lower: lower, upper: upper, work: work, target: inside(target), userXattr: true, volatile: true)
        case .proc(let target):
            try FileIO.makeDirectories(inside(target))
            try Mount.proc(inside(target))
        case .devpts(let target):
            try FileIO.makeDirectories(inside(target))
            try Mount.devpts(inside(target))
        case .symlink(let target, let destination):
            try makeParent(inside(target))
            guard symlink(destination, inside(target)) == 0 else { throw .current("symlink", target) }
        case .file(let target, let contents, let mode):
            try makeParent(inside(target))
            try FileIO.writeFile(inside(target), Array(contents.utf8), mode: mode_t(mode))
        case .copy(let source, let target, let optional):
            let bytes: [UInt8]
            do { bytes = try FileIO.readFile(source, limit: 16 * 1024 * 1024) } catch {
                if optional && (error.errno == ENOENT || error.errno == ENOTDIR) { return }
                throw error
            }
            try makeParent(inside(target))
            try FileIO.writeFile(inside(target), bytes, mode: 0o644)
        case .mask(let target):
            let path = inside(target)
            switch FileIO.kind(path, followSymlinks: false) {
            case .missing: return
            case .directory: try Mount.tmpfs(path, mode: 0o000, sizeBytes: 4096); try Mount.remountReadOnly(path)
            default: try Mount.bind("/dev/null", path, readOnly: true, recursive: false)
            }
        case .remountReadOnly(let target):
            try Mount.remountReadOnly(inside(target))
        }
    }

    private func makeParent(_ path: String) throws(SystemError) {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return }
        try FileIO.makeDirectories(String(path[..<slash]))
    }

    /// A bind needs a mount point of the same kind as its source.
    private func makeMountPoint(_ path: String, like source: String) throws(SystemError) {
        if FileIO.kind(source) == .directory {
            try FileIO.makeDirectories(path)
        } else {
            try makeParent(path)
            if FileIO.kind(path) == .missing {
                let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
                guard fd >= 0 else { throw .current("create mount point", path) }
                close(fd)
            }
        }
    }

    /// The agent runs as `plan.user` in a user namespace nested inside the sandbox's: the
    /// mounts made above belong to the outer namespace and are locked (cannot be undone inside).
    private func enterAgentUserNamespace() throws(SystemError) {
        let outerUid = getuid()
        let outerGid = getgid()
        try NamespaceSet.unshare(.user)
        try FileIO.writeFile("/proc/self/setgroups", "deny")
        try FileIO.writeFile("/proc/self/uid_map", "\(plan.user.uid) \(outerUid) 1\n")
        try FileIO.writeFile("/proc/self/gid_map", "\(plan.user.gid) \(outerGid) 1\n")
    }
}
