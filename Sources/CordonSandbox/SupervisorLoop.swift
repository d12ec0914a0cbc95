import CordonConfig
import CordonCore
import CordonIsolation
import CordonNet
import CordonOS
import Glibc

/// The supervisor's part of a run once cordon-init is started: lets `prepare` make what the run
/// needs, releases init once the limits hold, serves the network and relays the terminal and
/// signals until init exits. Any failure before the release kills init: it has run nothing of the
/// sandbox's by then. init has exited when `run` returns or throws.
struct SupervisorLoop {
    /// Caught while the sandbox runs and forwarded to it (SIGWINCH resizes its pty instead).
    static let forwardedSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH]

    /// What `prepare` made while init loaded.
    struct Prepared {
        /// The cgroup join in progress.
        var joining: Cgroup.Joining?
        /// The record being flushed to disk (waited for once the sandbox has exited).
        var saving: Background
        var egress: SandboxEgress?
        /// The control socket, bound and listening (`bindControlSocket`), for a sandbox with egress.
        var control: Int32? = nil
    }

    /// Binds the sandbox's control socket (cordon approvals/allow/deny). Done while init builds
    /// the root, not after its listeners arrive: binding a socket makes an inode in the state
    /// directory, which was a visible part of the start on this host's file system.
    static func bindControlSocket(_ layout: SandboxLayout, warn: @Sendable (String) -> Void) -> Int32? {
        do throws(CordonError) { return try DescriptorPassing.listen(at: layout.controlSocket, backlog: 16) } catch {
            warn("cordon: the control socket could not start (\(error.cause ?? error.message)); approvals can only be answered here")
            return nil
        }
    }

    let sandbox: InitProcess
    let hostname: String
    let pty: Pty?
    let layout: SandboxLayout
    let disk: DiskWatch?
    /// The profile's `terminal.filter`.
    let filterLevel: TerminalFilter.Level
    let warn: @Sendable (String) -> Void
    /// Says why init could not start the command (not found: 127, cannot run: 126).
    var explainLaunchFailure: @Sendable (LaunchFailure) -> String = { "cordon: \($0.message)" }

    /// `prepare` is given init's pid (it sends the plan); `onNetwork` hears the network's state.
    /// Returns init's exit status.
    func run(
        prepare: (_ pid: Int32) throws(CordonError) -> Prepared, onNetwork: @escaping @Sendable (String) -> Void
    ) throws(CordonError) -> Int32 {
        let prepared = try prepareWhileInitLoads(prepare)
        let egress = prepared.egress
        let network = NetworkStart()
        armNetwork(network, egress: egress, control: prepared.control, onNetwork: onNetwork)
        defer { network.stop(egress: egress) }
        let joinFiles = try sandbox.abortingOnFailure { () throws(CordonError) -> [Int32] in
            do throws(SystemError) { return try prepared.joining?.finish() ?? [] } catch {
                throw CordonError(.sandboxSetup, "cannot put the sandbox in its cgroup", cause: error.description)
            }
        }
        sandbox.releaseLimits(joinFiles: joinFiles)

        let approvals = ApprovalWake(egress: egress, hostname: hostname, interactive: pty?.interactive ?? false, warn: warn)
        defer { approvals.close() }
        try relayUntilExit(network: network, egress: egress, approvals: approvals)

        let status = sandbox.waitStatus()
        do throws(CordonError) { try prepared.saving.wait() } catch {
            warn("cordon: \(error); the sandbox's record may not survive a crash of this host")
        }
        let setupError = sandbox.setupErrors()
        if let failure = LaunchFailure(wireBytes: setupError) {
            warn(explainLaunchFailure(failure))
            return failure.status
        }
        if !setupError.isEmpty {
            let text = String(decoding: setupError, as: UTF8.self).split(separator: "\n").joined(separator: "; ")
            throw CordonError(
                .sandboxSetup, "the sandbox could not be set up, so the command did not run: \(text)",
                hint: "run `cordon doctor` to check what this host supports")
        }
        return status
    }

    /// init execs and loads meanwhile (its exec is confirmed after), then builds the root from
    /// the plan; it runs nothing of the sandbox's until the limits are released.
    private func prepareWhileInitLoads(_ prepare: (_ pid: Int32) throws(CordonError) -> Prepared) throws(CordonError) -> Prepared {
        try sandbox.abortingOnFailure { () throws(CordonError) -> Prepared in
            let prepared: Prepared
            do throws(CordonError) { prepared = try prepare(sandbox.process.pid) } catch {
                // If init failed before its exec, that is the reason (sending the plan only says so).
                try sandbox.waitForExec()
                throw error
            }
            try sandbox.waitForExec()
            return prepared
        }
    }

    /// The capture's listeners arrive from init (made inside the sandbox's network namespace)
    /// before it waits for the limits. The proxy starts (on another thread) when the sandbox
    /// first uses one of them, or the control socket gets a connection: a run that never does
    /// never starts NIO. Until then the sandbox's connections wait in the listeners' backlog,
    /// they never go around the proxy.
    private func armNetwork(_ network: NetworkStart, egress: SandboxEgress?, control: Int32?, onNetwork: @escaping @Sendable (String) -> Void) {
        guard let egress, let received = sandbox.receiveListeners() else {
            closeControl(control)
            return
        }
        switch received {
        case .listeners(let fds):
            let listeners = SandboxEgress.Listeners(fds)!
            network.arm(egress: egress, listeners: listeners, control: control, onNetwork: onNetwork, warn: warn)
            onNetwork("proxied")
        case .unavailable(let reason):
            closeControl(control)
            warn("cordon: the sandbox has no network: \(reason) (see `cordon doctor`)")
            onNetwork("unavailable: \(reason)")
        case .closed:
            closeControl(control)
        }
    }

    /// A control socket with no network to serve: closed and its name removed.
    private func closeControl(_ control: Int32?) {
        guard let control else { return }
        close(control)
        _ = unlink(layout.controlSocket)
    }

    /// Relays the terminal and signals until init (PID 1 inside) exits. The signal pipe first:
    /// from then on SIGINT/SIGTERM/SIGHUP reach the sandbox and the loop, which restores the
    /// terminal on the way out, instead of killing cordon in raw mode.
    private func relayUntilExit(network: NetworkStart, egress: SandboxEgress?, approvals: ApprovalWake) throws(CordonError) {
        let signalFD = try? SignalPipe.install(Self.forwardedSignals)
        let raw = pty?.inputFD == 0 ? try? Terminal.makeRaw(0) : nil
        let relayFilter = pty != nil && filterLevel != .off ? RelayFilter(level: filterLevel) : nil
        let output = pty.flatMap { $0.outputFD >= 0 ? $0.outputFD : nil }
        defer {
            if let relayFilter, let output {
                // Undo the modes the sandbox left on (mouse, alternate screen, hidden cursor…).
                let reset = relayFilter.terminalFilter.finish()
                _ = reset.withUnsafeBytes { write(output, $0.baseAddress, $0.count) }
            }
            if let raw { try? Terminal.restore(0, to: raw) }
            SignalPipe.reset(Self.forwardedSignals)
            if let signalFD { close(signalFD) }
            if let summary = relayFilter?.terminalFilter.droppedSummary {
                warn("cordon: the terminal filter dropped from the sandbox's output: \(summary) (profile: terminal.filter)")
            }
        }
        let poll = SupervisorPoll(
            pidfd: sandbox.process.pidfd, signals: signalFD,
            relay: pty.map { .init(master: $0.master, input: $0.inputFD >= 0 ? $0.inputFD : nil, output: output, sizeSource: $0.sizeFD) },
            filter: relayFilter, tick: approvals.readEnd)
        var diskWatched = disk != nil
        while true {
            let wakes = network.wakeDescriptors + (diskWatched ? disk.map { [$0.wakeDescriptor] } ?? [] : [])
            let event: SupervisorPoll.Event
            do throws(CordonError) { event = try poll.wait(wake: wakes) } catch {
                sandbox.abort()
                throw error
            }
            switch event {
            case .exited:
                return
            case .wake:
                if diskWatched, let disk, disk.trip != nil {
                    // Frozen at the disk limit: only Ctrl-C or a signal to cordon ends it now.
                    diskWatched = false
                    DiskWatch.holdFrozen(
                        pidfd: sandbox.process.pidfd, signalFD: signalFD ?? -1, input: pty.flatMap { $0.inputFD >= 0 ? $0.inputFD : nil },
                        unattended: pty == nil ? DiskWatch.unattendedHold : nil)
                } else {
                    network.start()
                }
            case .tick:
                guard let egress else { continue }
                approvals.drain()
                for request in egress.approvals.pending { TerminalPrompt.ask(request, sandbox: hostname, broker: egress.approvals) }
            }
        }
    }
}

/// Connections held for an approval: with the user at the terminal, a byte on a pipe wakes the
/// supervisor's wait to ask there; else each is said once on stderr.
private final class ApprovalWake {
    private var pipe: (read: Int32, write: Int32)?

    init(egress: SandboxEgress?, hostname: String, interactive: Bool, warn: @escaping @Sendable (String) -> Void) {
        var fds: [Int32] = [-1, -1]
        guard let egress, Glibc.pipe(&fds) == 0 else { return }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        }
        pipe = (fds[0], fds[1])
        let wake = fds[1]
        egress.approvals.observe { request in
            if interactive {
                var byte: UInt8 = 1
                _ = write(wake, &byte, 1)
            } else {
                warn(
                    "cordon: \(hostname) is holding a connection to \(request.host):\(request.port): `cordon allow \(hostname) \(request.host)` (add --always to keep it) or `cordon deny \(hostname) \(request.host)`"
                )
            }
        }
    }

    /// Readable when a request waits to be asked.
    var readEnd: Int32? { pipe?.read }

    func drain() {
        guard let pipe else { return }
        var drain = [UInt8](repeating: 0, count: 64)
        while read(pipe.read, &drain, drain.count) > 0 {}
    }

    func close() {
        guard let pipe else { return }
        Glibc.close(pipe.read)
        Glibc.close(pipe.write)
        self.pipe = nil
    }
}
