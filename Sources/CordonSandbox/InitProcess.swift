import CordonConfig
import CordonCore
import CordonOS
import Glibc

/// cordon-init started in the sandbox's new namespaces, with the channels the supervisor keeps
/// to it: its plan (fd 3), its setup errors (fd 4), the limits message (fd 5) and, with a
/// captured network, its listeners (fd 6).
///
/// It is started before anything else of the run is prepared: it execs and loads while the
/// supervisor checks the workspace, makes the state, the cgroup and the plan, and it does nothing
/// until its plan arrives, nothing of the sandbox's until the limits message. A failure of the
/// supervisor meanwhile `abort()`s it.
final class InitProcess {
    let process: SpawnedProcess
    private var plan: PlanChannel
    private var capture: CaptureChannel?
    /// Setup errors init writes before the command starts (read end; EOF once it runs).
    private let errors: Int32
    private var limits: Int32
    private let path: String
    private var execChecked = false
    private var exitStatus: Int32?
    /// A sandbox brought `up`: the supervisor's end of init's exec channel (`ExecWire`), and
    /// init's end until it goes with the plan.
    private(set) var execChannel: Int32 = -1
    private var execChild: Int32 = -1

    /// Starts `path` in fresh user, mount, pid, ipc, uts (and net, unless `network` is host)
    /// namespaces; root inside is the caller (`uid`/`gid`), or with `range` (cordon run as root)
    /// that block of unprivileged host ids. `terminal`: the streams that are terminals are that
    /// pty's slave; the rest (and all without one) are this process's 0, 1, 2.
    static func start(path: String, terminal: Pty?, network: Profile.Network, uid: UInt32, gid: UInt32, range: IdentityRange? = nil) throws(CordonError)
        -> InitProcess
    {
        // Every descriptor opened here, closed together if a later step fails.
        var opened: [Int32] = []
        var errorPipe: [Int32] = [-1, -1]
        guard pipe(&errorPipe) == 0 else { throw CordonError(.systemCall, "pipe failed", cause: String(cString: strerror(errno))) }
        for fd in errorPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        opened += errorPipe
        let limitsPair: (parent: Int32, child: Int32)
        var capture: CaptureChannel?
        var plan: PlanChannel
        do throws(CordonError) {
            limitsPair = try socketPair(SOCK_STREAM)
            opened += [limitsPair.parent, limitsPair.child]
            capture = network == .proxy ? try CaptureChannel.make() : nil
            if let capture { opened += [capture.parent, capture.child] }
            plan = try PlanChannel.make()
            opened += [plan.parent, plan.child]
        } catch {
            opened.forEach { close($0) }
            throw error
        }
        // The streams that are terminals are the pty's slave; the others are passed as they are.
        let stdio: [Int32] = terminal?.stdio ?? [0, 1, 2]
        let fds = stdio + [plan.child, errorPipe[1], limitsPair.child] + (capture.map { [$0.child] } ?? [])
        var namespaces = NamespaceSet.all.subtracting(.cgroup)
        if network == .host { namespaces.remove(.net) }

        let process: SpawnedProcess
        do {
            // cgroup ns: init unshares it after joining the cgroup, so its root is the sandbox's.
            process = try SpawnedProcess.start(
                path: path, arguments: ["cordon-init"], environment: [], descriptors: fds, namespaces: namespaces,
                becomeRoot: range != nil)
        } catch {
            opened.forEach { close($0) }
            terminal?.closeSlave()
            throw CordonError(
                .hostNotReady, "cannot create the sandbox's namespaces: \(error.errnoText)",
                hint: "run `cordon doctor` to see what this host blocks (unprivileged user namespaces, AppArmor)")
        }
        // The child has its own copies of its ends.
        close(errorPipe[1])
        close(limitsPair.child)
        capture?.closeChild()
        plan.closeChild()
        terminal?.closeSlave()
        let started = InitProcess(process: process, plan: plan, capture: capture, errors: errorPipe[0], limits: limitsPair.parent, path: path)
        // Root inside is the caller (or the sandbox's own block of host ids); then init may exec.
        do throws(SystemError) {
            if let range {
                try process.mapRange(outside: range.base, count: IdentityRange.size)
            } else {
                try process.mapIdentity(outsideUid: uid, outsideGid: gid)
            }
        } catch {
            started.abort()
            throw CordonError(
                .sandboxSetup, range.map { "cannot map the sandbox to host uids \($0.base)+" } ?? "cannot prepare the sandbox process",
                cause: error.description)
        }
        do throws(SystemError) { try process.letGo() } catch {
            started.abort()
            throw CordonError(.sandboxSetup, "cannot start cordon-init (\(path))", cause: error.errnoText)
        }
        return started
    }

    private init(process: SpawnedProcess, plan: PlanChannel, capture: CaptureChannel?, errors: Int32, limits: Int32, path: String) {
        self.process = process
        self.plan = plan
        self.capture = capture
        self.errors = errors
        self.limits = limits
        self.path = path
    }

    /// Runs `body`; if it throws, init is killed and reaped first (it has run nothing of the
    /// sandbox's yet).
    func abortingOnFailure<T>(_ body: () throws(CordonError) -> T) throws(CordonError) -> T {
        do { return try body() } catch {
            abort()
            throw error
        }
    }

    /// Sends the whole plan and closes the channel: init starts building the root. Its first
    /// byte carries `trees` (the detached mounts `plan.trees` names; none rootless).
    func sendPlan(_ bytes: [UInt8], trees: [Int32] = []) throws(CordonError) {
        guard let first = bytes.first else { throw CordonError(.sandboxSetup, "cannot hand an empty plan to cordon-init") }
        let attached = execChild >= 0 ? trees + [execChild] : trees
        defer {
            if execChild >= 0 { close(execChild) }
            execChild = -1
        }
        do throws(CordonError) { try DescriptorPassing.send(attached, message: [first], over: plan.parent) } catch {
            throw CordonError(.sandboxSetup, "cannot hand the plan to cordon-init", cause: error.cause)
        }
        try plan.send(Array(bytes.dropFirst()))
        plan.closeParent()
    }

    /// Blocks until init has exec'd; throws why it could not.
    func waitForExec() throws(CordonError) {
        guard !execChecked else { return }
        execChecked = true
        do throws(SystemError) { try process.waitForExec() } catch {
            throw CordonError(.sandboxSetup, "cannot start cordon-init (\(path))", cause: error.errnoText)
        }
    }

    /// Lets init start the command: the limits hold. `joinFiles` are open descriptors of a v1
    /// cgroup's `tasks` files: init writes itself into each first (a thread moving itself skips
    /// the global lock, and its RCU grace period, that moving a process from outside takes).
    /// They are closed here.
    func releaseLimits(joinFiles: [Int32]) {
        try? DescriptorPassing.send(joinFiles, message: [1], over: limits)
        for fd in joinFiles { close(fd) }
        close(limits)
        limits = -1
    }

    /// Kills init and reaps it; closes every channel. Safe to call more than once.
    func abort() {
        if exitStatus == nil {
            process.signal(SIGKILL)
            try? waitForExec()
            exitStatus = process.waitStatus()
        }
        closeChannels()
    }

    /// Blocks until init exits; its status (128 + signal when killed).
    func waitStatus() -> Int32 {
        if let exitStatus { return exitStatus }
        let status = process.waitStatus()
        exitStatus = status
        return status
    }

    /// Blocks until init hands over its capture's listeners or says why there are none; nil
    /// without a captured network. Call once.
    func receiveListeners() -> CaptureChannel.Received? {
        guard let capture else { return nil }
        self.capture = nil
        return capture.receive()
    }

    /// What init wrote on its error channel (empty when the command started).
    func setupErrors() -> [UInt8] { (try? FileIO.readAll(fd: errors, limit: 65536)) ?? [] }

    /// Opens the exec channel of a sandbox brought `up` (before the plan is sent).
    func openExecChannel() throws(CordonError) {
        guard execChannel < 0 else { return }
        let pair = try socketPair(SOCK_SEQPACKET)
        execChannel = pair.parent
        execChild = pair.child
    }

    private func closeChannels() {
        if limits >= 0 { close(limits); limits = -1 }
        if execChild >= 0 { close(execChild); execChild = -1 }
        plan.closeParent()
        if let capture { close(capture.parent); self.capture = nil }
    }

    deinit {
        closeChannels()
        if execChannel >= 0 { close(execChannel) }
        close(errors)
        close(process.pidfd)
    }
}
