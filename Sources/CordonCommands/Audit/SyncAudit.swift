import CordonAudit
import CordonCore
import CordonGate

extension SyncCommand {
    /// The audit record of a sync that ran (not a dry run): the paths applied and held in every
    /// target, a mount's named by where the sandbox sees it (`/data/file`), the workspace's as
    /// they are.
    static func auditRecord(targets: [SyncTarget], applied: [[String]], held: [[String]]) -> AuditRecord {
        func named(_ index: Int, _ paths: [String]) -> [String] {
            guard let mount = targets[index].mount else { return paths }
            return paths.map { mount.sandbox + "/" + $0 }
        }
        return .sync(
            via: "sync", applied: targets.indices.flatMap { named($0, applied[$0]) },
            held: targets.indices.flatMap { named($0, held.indices.contains($0) ? held[$0] : []) })
    }
}
