import CordonCore
import CordonFS
import FoundationEssentials

/// A sandbox's state directory, record and change set, as the sync commands load them.
struct SandboxChanges {
    var name: String
    var layout: SandboxLayout
    var record: SandboxRecord
    var changeSet: ChangeSet

    /// `snapshot`: copy the changed files there as they are read (a running sandbox; see `ChangeSet.read`).
    static func load(name: String, layout: SandboxLayout, snapshot: String? = nil) throws(CordonError) -> SandboxChanges {
        let record = try layout.loadRecord()
        guard record.mode != "unsafe" else {
            throw CordonError(
                .unsupported, "sandbox \(name) runs in unsafe mode: its writes went straight to \(record.workspace)", hint: "there is no upper layer to review")
        }
        let changeSet = try ChangeSet.read(upper: layout.upper, lower: record.workspace, snapshot: snapshot)
        return SandboxChanges(name: name, layout: layout, record: record, changeSet: changeSet)
    }

    /// `created` as a time, for conflict detection.
    var created: Date? {
        try? Date(record.created, strategy: .iso8601)
    }
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
