public import CordonCore
import CordonFS
import CordonOS
public import CordonScan
public import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// yolo mode's automatic sync. Each `round` reads the sandbox's change set, runs the whole gate
/// over it and applies it when nothing in it is flagged; a flagged change set is applied not at
/// all (it is one coherent change) and waits for a human with `cordon sync NAME`.
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
        public var applied: [String] = []
        public var held: [String] = []
        public var findings: [Finding] = []
        /// The round could not read the change set because the agent changed it meanwhile; the
        /// next round reads it again. Nothing was applied.
        public var raced = false
        public init() {}
    }

    public let workspace: String
    public let upper: String
    public let journalPath: String
    /// The sandbox's sync lock: a manual `cordon sync` and a round never interleave.
    public let lockPath: String
    /// Where a round copies the files it checks (removed after the round).
    public let snapshotPath: String
    let gate: SyncGate
    let created: Date?
    /// The host entries cordon wrote, as it left them: a conflict about one still so is about
    /// cordon's own write, not the user's.
    private var written = HostWrites()
    /// Test hook: runs after the gate passed a change set, before the apply (where an agent's
    /// racing write would land).
    public var afterGate: () -> Void = {}

    public init(
        workspace: String, upper: String, journalPath: String, lockPath: String, gate: SyncGate, created: Date?, snapshotPath: String? = nil
    ) {
        self.workspace = workspace
        self.upper = upper
        self.journalPath = journalPath
        self.lockPath = lockPath
        self.snapshotPath = snapshotPath ?? AnchoredDirectory.split(journalPath).parent + "/snapshot"
        self.gate = gate
        self.created = created
    }

    /// One pass of the gate, and the apply when the change set is clean.
    public func round(overlayMounted: Bool) throws(CordonError) -> Round {
        try SandboxLayout.withLock(at: lockPath) { () throws(CordonError) in try lockedRound(overlayMounted: overlayMounted) }
    }

    private func lockedRound(overlayMounted: Bool) throws(CordonError) -> Round {
        var applier = SyncApplier(workspace: workspace, upper: upper, journalPath: journalPath)
        applier.keepUpper = overlayMounted
        try applier.recover()
        try AnchoredDirectory.removeTree(snapshotPath)
        defer { try? AnchoredDirectory.removeTree(snapshotPath) }
        var result = Round()
        // A round that holds applies nothing, so it needs no snapshot: the live upper is checked
        // first, and only a change set that would apply is copied and checked again (a held set,
        // checked every interval, is never copied).
        var (set, report, plan) = try check(snapshot: nil, into: &result)
        if set.changes.isEmpty || !plan.held.isEmpty { return result }
        if overlayMounted {
            (set, report, plan) = try check(snapshot: snapshotPath, into: &result)
            if set.changes.isEmpty || !plan.held.isEmpty { return result }
        }
        afterGate()
        // The bytes applied are the snapshot's, which the gate read; the upper is left as it is.
        if set.contents != upper { applier.source = set.contents }
        result.applied = try applier.apply(plan.apply, allChanges: report.changes).applied
        try written.record(result.applied, workspace: workspace)
        return result
    }

    /// Reads the change set (copying the changed files into `snapshot` when given) and runs the
    /// gate over it; `result` gets the findings and what is held.
    private func check(snapshot: String?, into result: inout Round) throws(CordonError) -> (ChangeSet, SyncGate.Report, SyncPlan) {
        let set: ChangeSet
        do {
            set = try ChangeSet.read(upper: upper, lower: workspace, snapshot: snapshot)
        } catch  where error.code == .io {
            // The agent changed the tree while it was read: nothing applies, the next round reads again.
            result.raced = true
            let empty = ChangeSet(upper: upper, lower: workspace, changes: [])
            let report = SyncGate.Report(changes: [], findings: [])
            return (empty, report, SyncPlan(report: report, approve: false, force: false))
        }
        var report = try gate.evaluate(set, created: created)
        report.findings = written.droppingOwnConflicts(report.findings, workspace: workspace)
        result.findings = report.findings
        let plan = SyncPlan(report: report, approve: false, force: false)
        result.held = plan.held.map(\.path)
        return (set, report, plan)
    }

    /// The last round, after the sandbox has exited (the overlay is gone): applies what is clean,
    /// then removes from the upper every entry an earlier round applied that still equals the host.
    public func finish() throws(CordonError) -> Round {
        let result = try round(overlayMounted: false)
        let host = try AnchoredDirectory(workspace)
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
        written.removeAll()
        return result
    }
}
