import CordonCore
import CordonFS
import CordonGate
import FoundationEssentials

/// A sandbox's state directory, record and the host trees its changes return to, as the sync
/// commands load them.
struct SandboxChanges {
    var name: String
    var layout: SandboxLayout
    var record: SandboxRecord
    /// The workspace (not in unsafe mode: its writes went straight to the host), then each overlay
    /// mount.
    var targets: [SyncTarget]

    static func load(name: String, layout: SandboxLayout) throws(CordonError) -> SandboxChanges {
        let record = try layout.loadRecord()
        var targets = try SyncTarget.all(record: record, layout: layout)
        if record.mode == "unsafe" {
            targets.removeFirst()
            guard !targets.isEmpty else {
                throw CordonError(
                    .unsupported, "sandbox \(name) runs in unsafe mode: its writes went straight to \(record.workspace)",
                    hint: "there is no upper layer to review")
            }
        }
        return SandboxChanges(name: name, layout: layout, record: record, targets: targets)
    }

    /// What the sandbox's overlay mounts hold, counted together (for the run's summary line);
    /// empty when there are none or they cannot be read.
    static func overlayMountSummary(layout: SandboxLayout) -> ChangeSet.Summary {
        guard let record = try? layout.loadRecord(), let targets = try? SyncTarget.all(record: record, layout: layout) else { return .init() }
        return targets.filter { $0.mount != nil }.compactMap { try? $0.changeSet().summary }.reduce(ChangeSet.Summary(), +)
    }

    /// `created` as a time, for conflict detection.
    var created: Date? {
        try? Date(record.created, strategy: .iso8601)
    }
}

extension ChangeSet.Summary {
    /// The counts of both, added up (the summary line over the workspace and the overlay mounts).
    static func + (a: Self, b: Self) -> Self {
        var s = a
        s.added += b.added
        s.modified += b.modified
        s.modeChanged += b.modeChanged
        s.deleted += b.deleted
        s.dirsAdded += b.dirsAdded
        s.dirsRemoved += b.dirsRemoved
        s.bytesAdded += b.bytesAdded
        s.bytesRemoved += b.bytesRemoved
        return s
    }
}

/// `1 change`, `2 changes`: a count with its noun, singular for one.
func counted(_ count: Int, _ noun: String, plural: String? = nil) -> String {
    "\(count) \(count == 1 ? noun : plural ?? noun + "s")"
}

/// Byte counts for humans: `123 B`, `4.2 KB`, `1.5 MB`.
func formatSize(_ bytes: UInt64) -> String {
    if bytes < 1024 { return "\(bytes) B" }
    let units = ["KB", "MB", "GB", "TB"]
    var value = Double(bytes) / 1024
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return "\((value * 10).rounded() / 10) \(units[unit])"
}
