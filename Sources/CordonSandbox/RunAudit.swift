import CordonAudit
import CordonConfig
import CordonCore
import CordonNet
import CordonOS
import Glibc
import Synchronization

/// The audit log's part of a run (`SandboxRunner` calls it at each step, one line each): opens
/// the log and watches the upper layers from the moment the state exists; records the start and
/// the command, the proxy's decisions and the approvals, yolo's sync rounds, the exit; writes the
/// head when the sandbox stops. Nothing here stops a run: a log that cannot be written is said once.
final class RunAudit: Sendable {
    /// How long after the start the upper layers are watched (what they gained meanwhile is
    /// recorded then, from its change times): closing an inotify instance waits for the kernel's
    /// SRCU grace period, ~13 ms here, which every short run paid at its end for nothing.
    static let watchDelay = 0.5

    let log: AuditLog?
    private let watching: LateStart?
    private let started = WallClock.monotonic()
    private let exec = Mutex<AuditLog.Exec?>(nil)
    private let warn: @Sendable (String) -> Void

    init(name: String, layout: SandboxLayout, profile: Profile, warn: @escaping @Sendable (String) -> Void) {
        var log: AuditLog?
        var watching: LateStart?
        do throws(CordonError) {
            let opened = try AuditLog(layout: layout, sandbox: name, warn: warn)
            log = opened
            var layers: [FileWriteWatcher.Layer] = []
            if profile.mode != .unsafe { layers.append(.init(name: "workspace", path: layout.upper)) }
            for (index, mount) in profile.mounts.enumerated() where mount.mode == .overlay {
                layers.append(.init(name: mount.sandbox, path: layout.mountLayer(index) + "/upper"))
            }
            if !layers.isEmpty { watching = LateStart(layers: layers, log: opened, delay: Self.watchDelay, warn: warn) }
        } catch {
            warn("cordon: the audit log is incomplete for this run: \(error.description)")
        }
        self.log = log
        self.watching = watching
        self.warn = warn
    }

    deinit { watching?.stop() }

    /// The sandbox starts running `command`: its start and exec records, and the decisions of its
    /// egress proxy and approvals from now on; yolo's rounds record their results too.
    func started(
        profileSource: String, profile: Profile, workspace: String, command: [String], diskLimitBytes: Int, egress: SandboxEgress?,
        yolo: AutoSyncLoop?
    ) {
        guard let log else { return }
        log.post(
            .start(
                profile: profileSource, mode: profile.mode.rawValue, workspace: workspace, network: profile.network.rawValue,
                diskLimitBytes: diskLimitBytes, via: command.isEmpty ? "up" : "run"))
        // `cordon up` runs no command of its own: its commands come through `cordon exec`.
        if !command.isEmpty { exec.withLock { $0 = log.execStarted(argv: command, via: "run") } }
        yolo?.audit.withLock { $0 = log }
        guard let egress else { return }
        egress.log.observe { entry in
            log.post(
                .network(
                    time: entry.time, method: entry.method, host: entry.host, port: entry.port, decision: entry.decision, rule: entry.rule,
                    reason: entry.reason, client: entry.client))
        }
        egress.approvals.observeAnswers { host, port, answer in
            let text =
                switch answer {
                case .allowOnce: "allow"
                case .allowAlways: "allow_always"
                case .deny: "deny"
                }
            log.post(.approval(host: host, port: port, answer: text))
        }
    }

    /// The sandbox has exited: its writes are over (what follows, yolo's last round removing
    /// what it applied, is cordon's, not the agent's).
    func sandboxExited() {
        watching?.stop()
    }

    /// The run ends: the exit records, then the head.
    /// `keepsHead`: false when the sandbox's state is about to go (a one-shot run that left
    /// nothing): its head would be removed with the log.
    func stopped(status: Int32, oomKills: Int, diskLimit: String?, keepsHead: Bool = true) {
        watching?.stop()
        guard let log else { return }
        let duration = Int((WallClock.monotonic() - started) * 1000)
        if let exec = exec.withLock({ $0 }) { log.execEnded(exec, status: Int(status)) }
        log.post(.exit(status: Int(status), durationMS: duration, oomKills: oomKills, diskLimit: diskLimit))
        guard keepsHead else {
            // Written before the state directory goes, not after by the writer thread.
            log.flush()
            return
        }
        do throws(CordonError) { try log.writeHead() } catch { warn("cordon: the audit head was not written: \(error.description)") }
    }

    /// Writes the head now (after a `stopped` that kept none, when the state stays after all).
    func writeHead() {
        do throws(CordonError) { try log?.writeHead() } catch { warn("cordon: the audit head was not written: \(error.description)") }
    }

    /// The set-up failed: nothing of the sandbox's ran.
    func failed(_ error: CordonError) {
        watching?.stop()
        guard let log else { return }
        log.post(AuditRecord(kind: "setup_failed", fields: [("error", .string(error.description))]))
        try? log.writeHead()
    }
}

/// The file-write watcher, started `delay` seconds after the sandbox (unless it stops first),
/// with what the layers gained since the start recorded when its watches are placed; a run
/// that ends sooner has what its layers gained recorded from their change times.
private final class LateStart: Sendable {
    private final class State: Sendable {
        let value = Mutex<(stopped: Bool, watcher: FileWriteWatcher?)>((false, nil))
    }
    private let state = State()
    private let stopPipe: (read: Int32, write: Int32)
    private let thread: Background?
    private let layers: [FileWriteWatcher.Layer]
    private let log: AuditLog
    private let since: Int

    init?(layers: [FileWriteWatcher.Layer], log: AuditLog, delay: Double, warn: @escaping @Sendable (String) -> Void) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return nil }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        stopPipe = (fds[0], fds[1])
        let since = Int(time(nil))
        (self.layers, self.log, self.since) = (layers, log, since)
        let state = self.state
        let readEnd = fds[0]
        thread = Background { () throws(CordonError) in
            var p = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, Int32(delay * 1000)) == 0 else { return }
            do throws(CordonError) {
                let watcher = try FileWriteWatcher(layers: layers, log: log, reportSince: since)
                let keep = state.value.withLock { state in
                    guard !state.stopped else { return false }
                    state.watcher = watcher
                    return true
                }
                if keep { watcher.start() }
            } catch {
                warn("cordon: the audit log records no file writes for this run: \(error.description)")
            }
        }
    }

    deinit {
        close(stopPipe.read)
        close(stopPipe.write)
    }

    /// Stops the watcher, recording what it gathered; before it started, records what the
    /// layers gained since the start instead (once).
    func stop() {
        var byte: UInt8 = 1
        _ = write(stopPipe.write, &byte, 1)
        try? thread?.wait()
        let (watcher, first) = state.value.withLock { state in
            defer { state.stopped = true }
            return (state.watcher, !state.stopped)
        }
        if let watcher {
            watcher.stop()
        } else if first {
            FileWriteWatcher.recordChanged(layers: layers, log: log, since: since)
        }
    }
}
