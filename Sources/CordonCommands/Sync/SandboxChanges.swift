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
    static func load(name: String, stateDir: String?, snapshot: String? = nil) throws(CordonError) -> SandboxChanges {
        let paths = CordonPaths.current()
        let layout = try SandboxLayout.selected(name: name, stateDir: stateDir, paths: paths)
        let record = try layout.loadRecord()
        guard record.mode != "unsafe" else {
            throw CordonError(.unsupported, "sandbox \(name) runs in unsafe mode: its writes went straight to \(record.workspace)", hint: "there is no upper layer to review")
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

/// Writes a Codable value as pretty, key-sorted JSON to stdout.
func printJSON<T: Encodable>(_ value: T) throws(CordonError) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    do {
        let data = try encoder.encode(value)
        print(String(decoding: data, as: UTF8.self))
    } catch {
        throw CordonError(.internal, "cannot encode JSON output", cause: "\(error)")
    }
}
