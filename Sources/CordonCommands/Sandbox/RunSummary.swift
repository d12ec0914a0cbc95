import CordonConfig
import CordonCore
import CordonFS
import CordonNet
import CordonOS
import CordonSandbox
import Glibc

/// The one-line summary printed on stderr when a run ends.
enum RunSummary {
    static func line(name: String, outcome: SandboxRunner.Outcome, mode: Profile.Mode) -> String {
        var parts = ["cordon: \(name) exited \(outcome.exitStatus)"]
        if let disk = outcome.diskLimit { parts.append("frozen and ended at its disk limit (\(disk))") }
        if outcome.oomKills > 0 { parts.append("out of memory (\(outcome.oomKills) OOM kill\(outcome.oomKills == 1 ? "" : "s"))") }
        if let synced = outcome.autoSynced { parts.append("yolo sync applied \(synced) change\(synced == 1 ? "" : "s") to the host") }
        if mode == .unsafe {
            parts.append("workspace written directly (unsafe mode)")
        } else if outcome.removed {
            parts.append("no changes, nothing kept")
        } else if let changes = try? ChangeSet.read(upper: outcome.layout.upper, lower: outcome.workspace) {
            let summary = changes.summary + SandboxChanges.overlayMountSummary(layout: outcome.layout)
            if summary.total == 0 {
                parts.append("no changes")
            } else {
                var counts: [String] = []
                if summary.added + summary.dirsAdded > 0 { counts.append("\(summary.added + summary.dirsAdded) added") }
                if summary.modified + summary.modeChanged > 0 { counts.append("\(summary.modified + summary.modeChanged) modified") }
                if summary.deleted + summary.dirsRemoved > 0 { counts.append("\(summary.deleted + summary.dirsRemoved) deleted") }
                let review = outcome.autoSynced == nil ? "cordon diff \(name)" : "cordon sync \(name)"
                parts.append("\(counts.joined(separator: ", ")), held for review: \(review)")
            }
        }
        if let network = outcome.network {
            var text = network.description
            if outcome.droppedDatagrams > 0 { text += ", \(outcome.droppedDatagrams) UDP datagrams dropped" }
            if network.refused > 0 { text += " (cordon net log \(name))" }
            parts.append(text)
        }
        return parts.joined(separator: "; ")
    }
}
