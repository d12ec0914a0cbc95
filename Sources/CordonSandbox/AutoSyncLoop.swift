import CordonAudit
import CordonConfig
import CordonCore
import CordonGate
import CordonScan
import CordonOS
import Dispatch
import FoundationEssentials
import Synchronization

/// yolo mode's automatic sync, the supervisor's side: runs `AutoSync` (CordonGate: one round of
/// the gate and the apply) every `sync.interval` on its own thread while the sandbox runs, and a
/// last round after it exits. One concept, "auto sync": `AutoSync` is a round, this its loop. Clean change sets reach the host; a flagged one
/// waits for `cordon sync NAME`, said once on stderr each time what is held changes.
///
/// Fail closed: if the gate cannot be built (a broken gitleaks config), nothing is ever applied
/// and cordon says so; the sandbox itself keeps running, with its writes in the upper as in
/// secure mode.
final class AutoSyncLoop: @unchecked Sendable {
    /// What the run's summary line reports.
    struct Totals: Sendable {
        var applied = 0
        var held: [String] = []
        var failure: String?
    }

    private let name: String
    private let interval: Double
    private let events: JSONLinesWriter
    private let warn: @Sendable (String) -> Void
    private let makeSync: () throws(CordonError) -> AutoSync
    private let queue = DispatchQueue(label: "cordon.yolo-sync")
    private let stopSignal = DispatchSemaphore(value: 0)
    // Touched only on `queue` while running, then by `stop()` after the queue drained.
    private var sync: AutoSync?
    private var totals = Totals()
    private var lastHeld: [String] = []
    /// The sandbox's audit log: each round's result is recorded there (set once the sandbox starts).
    let audit = Mutex<AuditLog?>(nil)

    init(
        name: String, interval: Double, events: JSONLinesWriter, warn: @escaping @Sendable (String) -> Void,
        makeSync: @escaping () throws(CordonError) -> AutoSync
    ) {
        self.name = name
        self.interval = max(interval, 1)
        self.events = events
        self.warn = warn
        self.makeSync = makeSync
    }

    /// Builds the gate (off the start-up path) and starts the periodic rounds.
    func start() {
        queue.async { [self] in
            do throws(CordonError) { sync = try makeSync() } catch {
                totals.failure = error.description
                warn("cordon: yolo sync is off, nothing will be applied automatically: \(error.description)")
                record(.unavailable(error: error.description))
                return
            }
            while stopSignal.wait(timeout: .now() + interval) == .timedOut {
                runRound(overlayMounted: true)
            }
        }
    }

    /// Stops the rounds, runs the last one (the sandbox has exited, its overlay is gone) and
    /// returns what the run synced.
    func stop() -> Totals {
        stopSignal.signal()
        queue.sync {}
        if sync != nil { runRound(overlayMounted: false) }
        return totals
    }

    private func runRound(overlayMounted: Bool) {
        guard let sync else { return }
        do throws(CordonError) {
            let round = overlayMounted ? try sync.round(overlayMounted: true) : try sync.finish()
            totals.applied += round.applied.count
            totals.held = round.held
            if !round.applied.isEmpty || !round.held.isEmpty || round.raced {
                record(.round(applied: round.applied, held: round.held, rules: Array(Set(round.findings.map(\.ruleID))).sorted(), raced: round.raced))
            }
            if !round.held.isEmpty && round.held != lastHeld {
                let rules = Array(Set(round.findings.map(\.ruleID))).sorted().joined(separator: ", ")
                warn("cordon: yolo sync is holding \(round.held.count) change\(round.held.count == 1 ? "" : "s") (\(rules)): review with `cordon sync \(name)`")
            }
            lastHeld = round.held
        } catch {
            warn("cordon: yolo sync round failed, nothing applied: \(error.description)")
            record(.failed(error: error.description))
        }
    }

    private func record(_ sync: SandboxEvent.Sync) {
        events.append(SandboxEvent(sandbox: name, .sync(sync)))
        if case .round(let applied, let held, _, _) = sync { audit.withLock { $0 }?.appendAndSeal([.sync(via: "auto_sync", applied: applied, held: held)]) }
    }
}
