import CordonCore
import CordonOS
import Glibc

/// PID 1 of a sandbox brought `up`: no command of its own. It reaps every orphan and runs the
/// commands the supervisor asks for on the exec channel (`ExecWire`). Each is forked from init,
/// which is inside every guard already (user namespace, Landlock, no capabilities, seccomp, the
/// cgroup, the network namespace): a command inherits all of them by construction and never
/// enters from the host. The channel is close-on-exec, so no command holds it.
extension AgentSupervisor {
    /// Signals that end the sandbox (sent by the supervisor on `cordon down`, or forwarded).
    static let stopping: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]

    /// Serves `channel` until told to stop or the supervisor goes; never returns.
    public func runIdle(channel: Int32) -> Never {
        var previous = sigset_t()
        sigprocmask(SIG_BLOCK, nil, &previous)
        // As for a command (`run`): a handler, never called, marks them handled for PID 1.
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        for sig in Self.forwarded + [SIGCHLD] { sigaction(sig, &action, nil) }
        let signals: Int32
        do throws(SystemError) { signals = try SignalDescriptor.open(Self.forwarded + [SIGCHLD]) } catch {
            Self.die("cannot watch signals: \(error)")
        }
        // Not inspectable from inside (its descriptors include the exec channel).
        do { try Hardening.setDumpable(false) } catch { Self.die("cannot make init non-dumpable: \(error)") }
        Self.reply(.ready, over: channel)

        var running: [Int32: UInt32] = [:]
        while true {
            var fds = [pollfd(fd: signals, events: Int16(POLLIN), revents: 0), pollfd(fd: channel, events: Int16(POLLIN), revents: 0)]
            if poll(&fds, 2, -1) < 0 { continue }
            if fds[0].revents != 0 {
                while let sig = SignalDescriptor.next(signals) {
                    if sig == SIGCHLD {
                        Self.reap(&running, channel: channel)
                    } else if Self.stopping.contains(sig) {
                        Self.endAll()
                    }
                }
            }
            if fds[1].revents != 0 {
                let received: DescriptorPassing.Received
                do throws(CordonError) {
                    received = try DescriptorPassing.receive(over: channel, maxDescriptors: 3, capacity: ExecWire.maxRequestBytes)
                } catch {
                    Self.endAll()
                }
                // The supervisor is gone (it would have killed this process too).
                if received.message.isEmpty { Self.endAll() }
                serve(received, running: &running, channel: channel, previous: previous)
                received.descriptors.forEach { close($0) }
            }
        }
    }

    private func serve(_ received: DescriptorPassing.Received, running: inout [Int32: UInt32], channel: Int32, previous: sigset_t) {
        let request: ExecWire.Request
        do throws(ExecWire.DecodeError) { request = try ExecWire.decodeRequest(received.message) } catch { return }
        switch request {
        case .stop:
            Self.endAll()
        case .signal(let id, let signal):
            for (pid, owner) in running where owner == id {
                kill(-pid, signal)
                kill(pid, signal)
            }
        case .exec(let id, let argv, let extra, let directory, let terminal, let windowSize):
            guard received.descriptors.count == 3, let name = argv.first, !name.isEmpty else {
                Self.reply(.failed(id: id, status: 125, message: "a malformed exec request"), over: channel)
                return
            }
            let environment = ExecWire.merged(plan.environment, extra)
            // As `run` resolves its command: 127 when nothing by that name is there, 126 (saying
            // why) when it cannot be run; a relative path from the exec's working directory.
            let executable: String
            switch Self.resolveCommand(name, environment: environment, workingDirectory: directory.isEmpty ? plan.workingDirectory : directory) {
            case .success(let found): executable = found
            case .failure(let failure):
                Self.reply(.failed(id: id, status: failure.status, message: failure.message), over: channel)
                return
            }
            // A terminal: a pty of the sandbox's own devpts (so `tty` names it), its master back
            // to the client through the supervisor; the command's streams are its slave.
            var pty: (master: Int32, slave: Int32)?
            if terminal != 0 {
                do throws(CordonError) { pty = try Terminal.openPty(windowSizeFrom: -1) } catch {
                    Self.reply(.failed(id: id, status: 125, message: "cannot open a pty in the sandbox: \(error)"), over: channel)
                    return
                }
                if let master = pty?.master, windowSize != 0 {
                    try? Terminal.setWindowSize(master, Terminal.WindowSize(packed: windowSize))
                }
            }
            let stdio: [Int32] = (0..<3).map { stream in
                if let pty, terminal & (1 << stream) != 0 { return pty.slave }
                return received.descriptors[stream]
            }
            let workingDirectory = directory.isEmpty ? plan.workingDirectory : directory
            let child = fork()
            if child == 0 {
                var dfl = sigaction()
                dfl.__sigaction_handler.sa_handler = SIG_DFL
                for sig in Self.forwarded + [SIGCHLD] { sigaction(sig, &dfl, nil) }
                var restore = previous
                sigprocmask(SIG_SETMASK, &restore, nil)
                setsid()
                for (target, fd) in stdio.enumerated() { dup2(fd, Int32(target)) }
                if let tty = (Int32(0)..<3).first(where: { terminal & (1 << $0) != 0 }) {
                    Exec.setControllingTerminal(tty)
                    tcsetpgrp(tty, getpid())
                }
                if chdir(workingDirectory) != 0 {
                    let message = "cordon: cannot enter \(workingDirectory): \(SystemError.current("chdir").errnoText)\n"
                    _ = message.withCString { write(2, $0, strlen($0)) }
                    _exit(126)
                }
                let failure = Exec.replaceImage(executable, arguments: argv, environment: environment)
                let message = "cordon: cannot run \(name): \(failure.errnoText)\n"
                _ = message.withCString { write(2, $0, strlen($0)) }
                _exit(126)
            }
            if let pty { close(pty.slave) }
            defer { if let pty { close(pty.master) } }
            if child < 0 {
                Self.reply(.failed(id: id, status: 125, message: "fork failed: \(SystemError.current("fork").errnoText)"), over: channel)
                return
            }
            running[child] = id
            Self.reply(.started(id: id, pid: child), over: channel, attaching: pty.map { [$0.master] } ?? [])
        }
    }

    /// Reaps every exited child; those that were requested commands are reported.
    private static func reap(_ running: inout [Int32: UInt32], channel: Int32) {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { return }
            if let id = running.removeValue(forKey: pid) { reply(.exited(id: id, status: exitCode(status)), over: channel) }
        }
    }

    private static func reply(_ reply: ExecWire.Reply, over channel: Int32, attaching descriptors: [Int32] = []) {
        try? DescriptorPassing.send(descriptors, message: ExecWire.encode(reply), over: channel)
    }

    /// Ends every process of the sandbox, then init itself.
    private static func endAll() -> Never {
        kill(-1, SIGKILL)
        while waitpid(-1, nil, 0) > 0 {}
        _exit(0)
    }

    private static func die(_ message: String) -> Never {
        let text = "cordon: \(message)\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
        _exit(SandboxPlan.setupFailedStatus)
    }
}
