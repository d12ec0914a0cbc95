import CordonAudit
import CordonConfig
import CordonCore
import CordonNet
import CordonOS
import Synchronization

/// The audit log's part of a run (`SandboxRunner` calls it at each step, one line each): opens
/// the log and watches the upper layers from the moment the state exists; records the start and
/// the command, the proxy's decisions and the approvals, yolo's sync rounds, the exit; writes the
/// head when the sandbox stops. Nothing here stops a run: a log that cannot be written is said once.
final class RunAudit: Sendable {
    let log: AuditLog?
    private let watcher: FileWriteWatcher?
    private let started = WallClock.monotonic()
    private let exec = Mutex<AuditLog.Exec?>(nil)
    private let warn: @Sendable (String) -> Void

    init(name: String, layout: SandboxLayout, profile: Profile, warn: @escaping @Sendable (String) -> Void) {
        var log: AuditLog?
        var watcher: FileWriteWatcher?
        do throws(CordonError) {
            let opened = try AuditLog(layout: layout, sandbox: name, warn: warn)
            log = opened
            var layers: [FileWriteWatcher.Layer] = []
            if profile.mode != .unsafe { layers.append(.init(name: "workspace", path: layout.upper)) }
            for (index, mount) in profile.mounts.enumerated() where mount.mode == .overlay {
                layers.append(.init(name: mount.sandbox, path: layout.mountLayer(index) + "/upper"))
            }
            if !layers.isEmpty {
                watcher = try FileWriteWatcher(layers: layers, log: opened)
                watcher?.start()
            }
        } catch {
            warn("cordon: the audit log is incomplete for this run: \(error.description)")
        }
        self.log = log
        self.watcher = watcher
        self.warn = warn
    }

    deinit { watcher?.stop() }

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
        watcher?.stop()
    }

    /// The run ends: the exit records, then the head.
    func stopped(status: Int32, oomKills: Int, diskLimit: String?) {
        watcher?.stop()
        guard let log else { return }
        let duration = Int((WallClock.monotonic() - started) * 1000)
        if let exec = exec.withLock({ $0 }) { log.execEnded(exec, status: Int(status)) }
        log.post(.exit(status: Int(status), durationMS: duration, oomKills: oomKills, diskLimit: diskLimit))
        do throws(CordonError) { try log.writeHead() } catch { warn("cordon: the audit head was not written: \(error.description)") }
    }

    /// The set-up failed: nothing of the sandbox's ran.
    func failed(_ error: CordonError) {
        watcher?.stop()
        guard let log else { return }
        log.post(AuditRecord(kind: "setup_failed", fields: [("error", .string(error.description))]))
        try? log.writeHead()
    }
}
