import CordonCore
public import CordonOS
import Glibc

/// Builds the sandbox described by a plan, from inside the new namespaces (cordon-init).
/// Every step is fail-closed: the first error aborts and the command never runs.
public struct PlanExecutor {
    public let plan: SandboxPlan
    private let covers = CoverFiles()
    /// Detached mounts from the supervisor, by host path (`plan.trees`).
    private let trees: [String: Int32]
    private let stage = Stage()

    /// `trees`: the descriptors that came with the plan, one per `plan.trees` entry.
    public init(plan: SandboxPlan, trees: [Int32] = []) {
        self.plan = plan
        var byPath: [String: Int32] = [:]
        for (path, fd) in zip(plan.trees, trees) { byPath[path] = fd }
        self.trees = byPath
    }

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
            try CaptureNetwork.loopbackUp()
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
        try CaptureNetwork.loopbackUp()
        CaptureInstaller.disableIPv6()
        // This process is single-threaded: the child may run Swift code.
        let child = fork()
        guard child >= 0 else { throw .current("fork the capture installer") }
        if child == 0 {
            let outcome = CaptureInstaller(capture: capture).install()
            do throws(CordonError) { try CaptureInstaller.report(outcome, to: SandboxPlan.networkDescriptor) } catch {
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
        let received = try? DescriptorPassing.receive(over: SandboxPlan.limitsDescriptor, maxDescriptors: 16, capacity: 1)
        close(SandboxPlan.limitsDescriptor)
        let joinFiles = received?.descriptors ?? []
        defer { joinFiles.forEach { close($0) } }
        guard received?.message.count == 1 else { throw SystemError("wait for resource limits (the supervisor could not apply them)", nil, errno: ECANCELED) }
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
            if let tree = trees[source] {
                try makeMountPoint(inside(target), like: source, tree: tree)
                try Mount.attachTree(tree, at: inside(target), what: source)
                if readOnly { try Mount.remountReadOnly(inside(target), adding: UInt(MS_NOSUID)) }
            } else {
                try makeMountPoint(inside(target), like: source)
                try Mount.bind(source, inside(target), readOnly: readOnly)
            }
        case .overlay(let lower, let upper, let work, let target):
            try FileIO.makeDirectories(inside(target))
            try overlay(lower: lower, upper: upper, work: work, target: inside(target))
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
        case .cover(let target, let contents, let mode):
            try covers.cover(inside(target), contents: contents, mode: mode)
        }
    }

    /// The overlay's layers are given to overlayfs as descriptors of detached mounts, so its
    /// options in mountinfo read `lowerdir+=/,upperdir=/upper,workdir=/work`, not host paths.
    /// Volatile: unmounting it must not sync the host's whole filesystem (the supervisor syncs
    /// the upper layer itself, when the run wrote to it).
    private func overlay(lower: String, upper: String, work: String, target: String) throws(SystemError) {
        let layers = Self.parent(upper)
        guard Self.parent(work) == layers, upper != layers, work != layers else {
            throw SystemError("mount overlay: upper \(upper) and work \(work) must share a parent directory", nil, errno: EINVAL)
        }
        let (lowerTree, lowerPath) = try detachedCopy(lower)
        defer { close(lowerTree) }
        let (layerTree, layersPath) = try detachedCopy(layers)
        defer { close(layerTree) }
        let upperFD = openat(layerTree, Self.name(upper), FileSystem.openPathFlag | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard upperFD >= 0 else { throw .current("open the upper layer", upper) }
        defer { close(upperFD) }
        let workFD = openat(layerTree, Self.name(work), FileSystem.openPathFlag | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard workFD >= 0 else { throw .current("open the work directory", work) }
        defer { close(workFD) }
        let mounted = try Mount.overlay(
            lowerTree: lowerTree, upper: upperFD, work: workFD, target: target, userXattr: true, volatile: true, describing: "lower \(lower), upper \(upper)")
        if !mounted {
            // overlayfs before Linux 6.13 takes no layer by descriptor: by path, as seen from
            // here (run as root, the staging points, which say nothing of the host; rootless,
            // the host paths, which mountinfo then shows).
            try Mount.overlay(
                lower: lowerPath, upper: layersPath + "/" + Self.name(upper), work: layersPath + "/" + Self.name(work),
                target: target, userXattr: true, volatile: true)
        }
    }

    /// A detached copy of the host directory `path` owned by this process's namespaces (what
    /// overlayfs accepts as a layer): cloned from the supervisor's detached mount when one came
    /// for it, else from the path itself. The supervisor's mount is attached first on a private
    /// tmpfs beside the root (`stage`), outside the sandbox, and goes with the old root at
    /// pivot_root (unmounting it here would cost an RCU grace period, ~2.5 ms, per layer).
    /// Also returns a path to the same directory in this mount namespace.
    private func detachedCopy(_ path: String) throws(SystemError) -> (Int32, String) {
        guard let tree = trees[path] else {
            return (try Mount.cloneTree(path), path)
        }
        let point = try stage.next(beside: plan.root)
        // A detached tree attaches once (the supervisor sends one per path, each for one step).
        try Mount.attachTree(tree, at: point, what: path)
        return (try Mount.cloneTree(point), point)
    }

    private static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    private static func name(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    private func makeParent(_ path: String) throws(SystemError) {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return }
        try FileIO.makeDirectories(String(path[..<slash]))
    }

    /// A bind needs a mount point of the same kind as its source.
    private func makeMountPoint(_ path: String, like source: String, tree: Int32? = nil) throws(SystemError) {
        var st = stat()
        let isDirectory = tree.map { fstat($0, &st) == 0 && st.st_mode & S_IFMT == S_IFDIR } ?? (FileIO.kind(source) == .directory)
        if isDirectory {
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

/// The files of `.cover` steps: written into one tmpfs that is attached nowhere, each bound from
/// there over its target. A bind's mountinfo line names the file's path within its filesystem,
/// which for these is a bare index ("/3"), not a host path.
private final class CoverFiles {
    private var tmpfs: Int32 = -1
    private var count = 0

    func cover(_ target: String, contents: String, mode: UInt32) throws(SystemError) {
        if tmpfs < 0 {
            tmpfs = try Mount.detachedTmpfs()
        }
        count += 1
        try Mount.coverFile(in: tmpfs, name: String(count), Array(contents.utf8), mode: mode, over: target)
    }

    deinit { if tmpfs >= 0 { close(tmpfs) } }
}

/// Mount points for the supervisor's detached mounts: a tmpfs made on `<parent of root>/stage`
/// (an empty directory the supervisor made; the mount exists only in init's mount namespace).
private final class Stage {
    private var path: String?
    private var count = 0

    func next(beside root: String) throws(SystemError) -> String {
        let base: String
        if let path {
            base = path
        } else {
            guard let slash = root.lastIndex(of: "/"), slash != root.startIndex else {
                throw SystemError("find a staging directory beside", root, errno: EINVAL)
            }
            base = String(root[..<slash]) + "/stage"
            try Mount.tmpfs(base, mode: 0o700, sizeBytes: 65536)
            path = base
        }
        count += 1
        let point = base + "/\(count)"
        try FileIO.makeDirectories(point, mode: 0o700)
        return point
    }
}
