public import CordonFS

/// Which changes of a gate report may apply, given the user's approvals; pure.
///
/// An entry is held when a finding about it is blocking, a conflict without `force`, or an
/// approval without `approve`; also when its directory is held (its parent would not exist) or,
/// for a directory removal, when something inside it is held (it would not be empty).
public struct SyncPlan: Sendable {
    public var apply: [Change] = []
    public var held: [Change] = []
    let report: SyncGate.Report

    public init(report: SyncGate.Report, approve: Bool, force: Bool) {
        self.report = report
        var heldPaths = Set<String>()
        for change in report.changes {
            if let severity = report.severity(of: change.path), Self.holds(severity, approve: approve, force: force) { heldPaths.insert(change.path) }
        }
        // Children of a held added directory cannot be created.
        var changed = true
        while changed {
            changed = false
            for change in report.changes where !heldPaths.contains(change.path) {
                let parentHeld = heldPaths.contains { held in change.path.hasPrefix(held + "/") && report.changes.contains { $0.path == held && ($0.kind == .dirAdded) } }
                let childHeld = change.kind == .dirRemoved && heldPaths.contains { $0.hasPrefix(change.path + "/") }
                if parentHeld || childHeld {
                    heldPaths.insert(change.path)
                    changed = true
                }
            }
        }
        for change in report.changes {
            if heldPaths.contains(change.path) { held.append(change) } else { apply.append(change) }
        }
    }

    static func holds(_ severity: Finding.Severity, approve: Bool, force: Bool) -> Bool {
        switch severity {
        case .note: false
        case .approval: !approve
        case .conflict: !force
        case .block: true
        }
    }

    /// True when `change` is held only for want of approval.
    public func onlyNeedsApproval(_ change: Change) -> Bool {
        report.findings.filter { $0.path == change.path || $0.path.isEmpty }.allSatisfy { $0.severity <= .approval }
    }
}
