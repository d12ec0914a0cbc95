public import CordonCore
import CordonFS
public import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// yolo mode's automatic sync. Each `round` reads the sandbox's change set, runs the whole gate
/// over it and applies it when nothing in it is flagged; a flagged change set is applied not at
/// all (it is one coherent change) and waits for a human with `cordon sync NAME`.
///
/// While the sandbox runs, the upper layer is under a mounted overlay: rounds then leave applied
/// entries in the upper (the host now equals them, so the next change set no longer lists them)
/// and `finish`, once the sandbox has exited, removes them. Between the gate reading a file and the
/// apply copying it, the agent may rewrite it: every staged file's upper entry is compared with
/// what it was before the scan, and a difference abandons the apply (rolled back, nothing reaches
/// the host) until the next round scans the new content.
public final class AutoSync {
    public struct Round: Sendable, Equatable {
        public var applied: [String] = []
        public var held: [String] = []
        public var findings: [Finding] = []
        /// The apply was abandoned because a file changed while it was being checked.
        public var raced = false
        public init() {}
    }

    public let workspace: String
    public let upper: String
    public let journalPath: String
    /// The sandbox's sync lock: a manual `cordon sync` and a round never interleave.
    public let lockPath: String
    let gate: SyncGate
    let created: Date?
    /// The host entry right after cordon wrote each path (nil: cordon deleted it). A conflict
    /// finding about a path still in that state is about cordon's own write, not the user's.
    private var written: [String: FileInfo?] = [:]
    /// Test hook: runs after the gate passed a change set, before the apply (where an agent's
    /// racing write would land).
    public var afterGate: () -> Void = {}

    public init(workspace: String, upper: String, journalPath: String, lockPath: String, gate: SyncGate, created: Date?) {
        self.workspace = workspace
        self.upper = upper
        self.journalPath = journalPath
        self.lockPath = lockPath
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
        let set = try ChangeSet.read(upper: upper, lower: workspace)
        var result = Round()
        if set.changes.isEmpty { return result }
        // What each upper entry is before the scan reads it.
        var before: [String: FileInfo] = [:]
        for change in set.changes {
            if let info = try FileInfo.lstat(upper + "/" + change.path) { before[change.path] = info }
        }
        var report = try gate.evaluate(set, created: created)
        report.findings.removeAll { $0.ruleID == "conflict-host-changed" && isOwnWrite($0.path) }
        result.findings = report.findings
        let plan = SyncPlan(report: report, approve: false, force: false)
        guard plan.held.isEmpty else {
            result.held = plan.held.map(\.path)
            return result
        }
        afterGate()
        let race = RaceFlag()
        let upper = self.upper
        let applying = plan.apply.map(\.path)
        // Once every file is staged (copied to a temporary beside its host path, nothing renamed
        // yet), each upper entry must still be what it was before the scan read it.
        applier.checkpoint = { step throws(CordonError) in
            guard step == "staged" else { return }
            for path in applying where try FileInfo.lstat(upper + "/" + path) != before[path] {
                race.raised = true
                throw CordonError(.policyDenied, "\(path) changed in the sandbox while the gate checked it")
            }
        }
        do {
            result.applied = try applier.apply(plan.apply, allChanges: report.changes).applied
        } catch where race.raised {
            // The journal still says "preparing": the next recover() rolls the staged files back.
            try applier.recover()
            result.raced = true
            return result
        }
        for path in result.applied { written[path] = try FileInfo.lstat(workspace + "/" + path) }
        return result
    }

    /// The last round, after the sandbox has exited (the overlay is gone): applies what is clean,
    /// then removes from the upper every entry an earlier round applied that still equals the host.
    public func finish() throws(CordonError) -> Round {
        let result = try round(overlayMounted: false)
        for (path, hostInfo) in written.sorted(by: { $0.key.count > $1.key.count }) {
            guard try FileInfo.lstat(workspace + "/" + path) == hostInfo, let layer = try FileInfo.lstat(upper + "/" + path) else { continue }
            let same: Bool
            switch (hostInfo?.type, layer.type) {
            case (.file?, .file): same = layer.mode == hostInfo?.mode && ((try? FileContents.equal(workspace + "/" + path, upper + "/" + path)) ?? false)
            case (.symlink?, .symlink): same = (try? FileContents.readLink(workspace + "/" + path)) == (try? FileContents.readLink(upper + "/" + path))
            case (nil, .charDevice), (nil, .file): same = true  // a whiteout for a path cordon deleted
            default: same = false
            }
            if same { unlink(upper + "/" + path) }
        }
        written = [:]
        return result
    }

    private func isOwnWrite(_ path: String) -> Bool {
        guard let recorded = written[path] else { return false }
        return (try? FileInfo.lstat(workspace + "/" + path)) == recorded
    }

    private final class RaceFlag: @unchecked Sendable {
        var raised = false
    }
}
