public import CordonFS
import CordonScan

/// Which changes of a gate report may apply, given the user's approvals; pure.
///
/// An entry is held when a finding about it is blocking, a conflict without `force`, or an
/// approval without `approve`; also when its directory is held (its parent would not exist) or,
/// for a directory removal, when something inside it is held (it would not be empty).
public struct SyncPlan: Sendable {
    public var apply: [Change] = []
    public var held: [Change] = []
    /// The most severe finding per path; "" for findings about every change.
    let severities: [String: Finding.Severity]

    public init(report: SyncGate.Report, approve: Bool, force: Bool) {
        var severities: [String: Finding.Severity] = [:]
        for finding in report.findings where severities[finding.path].map({ finding.severity > $0 }) ?? true {
            severities[finding.path] = finding.severity
        }
        self.severities = severities
        var heldPaths = Set<String>()
        for change in report.changes {
            if let severity = Self.severity(of: change.path, in: severities), Self.holds(severity, approve: approve, force: force) {
                heldPaths.insert(change.path)
            }
        }
        // Children of a held added directory cannot be created; a removed directory with a held
        // entry below cannot be removed. Each pass is linear (lookups of a path's ancestors); it
        // repeats only while a removal is held because of another one below it.
        let addedDirs = Set(report.changes.filter { $0.kind == .dirAdded }.map { Substring($0.path) })
        var heldAddedDirs = Set<Substring>()
        var aboveHeld = Set<Substring>()
        func record(_ path: String) {
            if addedDirs.contains(Substring(path)) { heldAddedDirs.insert(Substring(path)) }
            var rest = Substring(path)
            while let slash = rest.lastIndex(of: "/") {
                rest = rest[..<slash]
                if !aboveHeld.insert(rest).inserted { break }
            }
        }
        heldPaths.forEach(record)
        var changed = !heldPaths.isEmpty
        while changed {
            changed = false
            for change in report.changes where !heldPaths.contains(change.path) {
                let parentHeld = Self.hasAncestor(change.path, in: heldAddedDirs)
                let childHeld = change.kind == .dirRemoved && aboveHeld.contains(Substring(change.path))
                if parentHeld || childHeld {
                    heldPaths.insert(change.path)
                    record(change.path)
                    changed = true
                }
            }
        }
        for change in report.changes {
            if heldPaths.contains(change.path) { held.append(change) } else { apply.append(change) }
        }
    }

    /// Whether a directory above `path` is in `dirs`.
    static func hasAncestor(_ path: String, in dirs: Set<Substring>) -> Bool {
        guard !dirs.isEmpty else { return false }
        var rest = Substring(path)
        while let slash = rest.lastIndex(of: "/") {
            rest = rest[..<slash]
            if dirs.contains(rest) { return true }
        }
        return false
    }

    static func severity(of path: String, in severities: [String: Finding.Severity]) -> Finding.Severity? {
        switch (severities[path], severities[""]) {
        case let (own?, all?): max(own, all)
        case let (own, all): own ?? all
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
        Self.severity(of: change.path, in: severities).map { $0 <= .approval } ?? true
    }
}
