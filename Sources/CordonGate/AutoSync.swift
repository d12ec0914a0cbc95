public import CordonCore
import CordonFS
import CordonOS
public import CordonScan
public import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// yolo mode's automatic sync. Each `round` reads the sandbox's change set (its workspace's and
/// every overlay mount's), runs the whole gate over it and applies it when nothing in it is
/// flagged; a flagged change set is applied not at all (it is one coherent change) and waits for a
/// human with `cordon sync NAME`.
///
/// While the sandbox runs, the agent may rewrite any file at any moment (it can watch access times
/// to learn when the gate has read one). So a round under a mounted overlay copies every changed
/// file into a snapshot in cordon's state dir as it reads the change set, and the gate scans and
/// the applier applies that copy: exactly the bytes checked reach the host. Rounds leave applied
/// entries in the upper (the host now equals them, so the next change set no longer lists them) and
/// `finish`, once the sandbox has exited, removes those still equal to the host, through
/// descriptors beneath the upper that never follow a symlink the agent left.
public final class AutoSync {
    public struct Round: Sendable, Equatable {
        /// Paths as cordon shows them: workspace-relative, an overlay mount's as `/data/x`.
        public var applied: [String] = []
        public var held: [String] = []
        /// Paths as `applied` and `held` show them.
        public var findings: [Finding] = []
        /// The round could not read the change set because the agent changed it meanwhile; the
        /// next round reads it again. Nothing was applied.
        public var raced = false
        public init() {}
    }

    /// One tree the rounds sync: the workspace, or an overlay mount's host directory, with the gate
    /// for it (its protected paths are relative to its root) and cordon's writes there.
    final class Part {
        let target: SyncTarget
        let gate: SyncGate
        /// The host entries cordon wrote, as it left them: a conflict about one still so is about
        /// cordon's own write, not the user's.
        var written = HostWrites()
        init(target: SyncTarget, gate: SyncGate) {
            self.target = target
            self.gate = gate
        }
    }

    public let workspace: String
    public let upper: String
    public let journalPath: String
    /// The sandbox's sync lock: a manual `cordon sync` and a round never interleave.
    public let lockPath: String
    /// Where a round copies the files it checks (removed after the round).
    public let snapshotPath: String
    let parts: [Part]
    let created: Date?
    /// Test hook: runs after the gate passed a change set, before the apply (where an agent's
    /// racing write would land).
    public var afterGate: () -> Void = {}

    /// The workspace alone.
    public convenience init(
        workspace: String, upper: String, journalPath: String, lockPath: String, gate: SyncGate, created: Date?, snapshotPath: String? = nil
    ) {
        let target = SyncTarget(
            mount: nil, host: workspace, upper: upper, journal: journalPath,
            hostWrites: AnchoredDirectory.split(journalPath).parent + "/host-writes.json",
            snapshot: snapshotPath ?? AnchoredDirectory.split(journalPath).parent + "/snapshot")
        self.init(targets: [(target, gate)], lockPath: lockPath, created: created)
    }

    /// Every target of the sandbox (`SyncTarget.all`: the workspace first), each with its gate.
    /// A change set is the union of theirs: one flagged entry anywhere holds every target.
    public init(targets: [(SyncTarget, SyncGate)], lockPath: String, created: Date?) {
        parts = targets.map { Part(target: $0.0, gate: $0.1) }
        let first = targets.first?.0
        workspace = first?.host ?? ""
        upper = first?.upper ?? ""
        journalPath = first?.journal ?? ""
        snapshotPath = first?.snapshot ?? ""
        self.lockPath = lockPath
        self.created = created
    }

    /// The rounds of a sandbox: its workspace and each overlay mount of `record`, every one gated
    /// with `policy` and with cordon's own files and the sandbox's policy files protected beneath
    /// its root. The scanner is compiled once for all of them.
    public static func forSandbox(
        record: SandboxRecord, layout: SandboxLayout, paths: CordonPaths, policy: GatePolicy, scannerCache: String?, created: Date?
    ) throws(CordonError) -> AutoSync {
        let scanner = try SyncGate(policy: policy, scannerCache: scannerCache).scanner
        var targets: [(SyncTarget, SyncGate)] = []
        for target in try SyncTarget.all(record: record, layout: layout) {
            var own = policy
            own.protectedPaths = ProtectedPath.forSandbox(record: record, paths: paths, root: target.host)
            targets.append((target, try SyncGate(policy: own, scanner: scanner)))
        }
        return AutoSync(targets: targets, lockPath: layout.syncLock, created: created)
    }

    /// One pass of the gate, and the apply when the change set is clean.
    public func round(overlayMounted: Bool) throws(CordonError) -> Round {
        try SandboxLayout.withLock(at: lockPath) { () throws(CordonError) in try lockedRound(overlayMounted: overlayMounted) }
    }

    /// One target's change set as the gate saw it.
    struct Checked {
        var set: ChangeSet
        var report: SyncGate.Report
        var plan: SyncPlan
    }

    private func lockedRound(overlayMounted: Bool) throws(CordonError) -> Round {
        for part in parts {
            var applier = SyncApplier(workspace: part.target.host, upper: part.target.upper, journalPath: part.target.journal)
            applier.keepUpper = overlayMounted
            try applier.recover()
            try AnchoredDirectory.removeTree(part.target.snapshot)
        }
        defer { for part in parts { try? AnchoredDirectory.removeTree(part.target.snapshot) } }
        var result = Round()
        // A round that holds applies nothing, so it needs no snapshot: the live upper is checked
        // first, and only a change set that would apply is copied and checked again (a held set,
        // checked every interval, is never copied).
        var checked = try check(snapshot: false, into: &result)
        if !Self.applies(checked) { return result }
        if overlayMounted {
            checked = try check(snapshot: true, into: &result)
            if !Self.applies(checked) { return result }
        }
        afterGate()
        for (part, entry) in zip(parts, checked) where !entry.plan.apply.isEmpty {
            var applier = SyncApplier(workspace: part.target.host, upper: part.target.upper, journalPath: part.target.journal)
            applier.keepUpper = overlayMounted
            // The bytes applied are the snapshot's, which the gate read; the upper is left as it is.
            if entry.set.contents != part.target.upper { applier.source = entry.set.contents }
            let applied = try applier.apply(entry.plan.apply, allChanges: entry.report.changes).applied
            try part.written.record(applied, workspace: part.target.host)
            result.applied += applied.map(part.target.shown)
        }
        return result
    }

    /// Whether a round's change sets apply: something changed, and nothing anywhere is held.
    static func applies(_ checked: [Checked]) -> Bool {
        checked.contains { !$0.set.changes.isEmpty } && checked.allSatisfy { $0.plan.held.isEmpty }
    }

    /// Reads every target's change set (copying the changed files into its snapshot when
    /// `snapshot`) and runs the gate over it; `result` gets the findings and what is held.
    private func check(snapshot: Bool, into result: inout Round) throws(CordonError) -> [Checked] {
        var checked: [Checked] = []
        var findings: [Finding] = []
        var held: [String] = []
        for part in parts {
            let set: ChangeSet
            do throws(CordonError) {
                set = try part.target.changeSet(snapshot: snapshot ? part.target.snapshot : nil, limits: part.gate.policy.snapshotLimits)
            } catch  where error.code == .io {
                // The agent changed the tree while it was read: nothing applies, the next round reads again.
                result.raced = true
                let report = SyncGate.Report(changes: [], findings: [])
                result.findings = []
                result.held = []
                return [
                    Checked(
                        set: ChangeSet(upper: part.target.upper, lower: part.target.host, changes: []), report: report,
                        plan: SyncPlan(report: report, approve: false, force: false))
                ]
            }
            var report = try part.gate.evaluate(set, created: created)
            report.findings = part.written.droppingOwnConflicts(report.findings, workspace: part.target.host)
            let plan = SyncPlan(report: report, approve: false, force: false)
            findings += report.findings.map(part.target.shown)
            held += plan.held.map { part.target.shown($0.path) }
            checked.append(Checked(set: set, report: report, plan: plan))
        }
        result.findings = findings
        result.held = held
        return checked
    }

    /// The last round, after the sandbox has exited (the overlay is gone): applies what is clean,
    /// then removes from each upper every entry an earlier round applied that still equals the host.
    public func finish() throws(CordonError) -> Round {
        let result = try round(overlayMounted: false)
        for part in parts {
            try Self.dropApplied(part.written, host: part.target.host, upper: part.target.upper)
            part.written.removeAll()
        }
        return result
    }

    /// Removes from `upper` the entries cordon wrote to `host` that are still as it left them.
    static func dropApplied(_ written: HostWrites, host root: String, upper: String) throws(CordonError) {
        guard !written.entries.isEmpty else { return }
        let host = try AnchoredDirectory(root)
        let layer = try AnchoredDirectory(upper)
        for (path, hostInfo) in written.entries.sorted(by: { $0.key.count > $1.key.count }) {
            guard host.info(path) == hostInfo, let entry = layer.info(path) else { continue }
            let same: Bool
            switch (hostInfo?.type, entry.type) {
            case (.file?, .file): same = entry.mode == hostInfo?.mode && host.sameContent(path, as: layer)
            case (.symlink?, .symlink): same = (try? host.readLink(path)) == (try? layer.readLink(path))
            case (nil, .charDevice), (nil, .file): same = true  // a whiteout for a path cordon deleted
            default: same = false
            }
            // Beneath the upper, never through a symlink: a directory the agent swapped for a link
            // to anywhere on the host makes the removal fail, not land there.
            if same { _ = try? layer.remove(path, directory: false) }
        }
    }
}
