import CordonConfig
import CordonCore
import CordonOS
import CordonSandbox
import Glibc

/// The one-line summary printed on stderr when a run ends.
enum RunSummary {
    static func line(name: String, outcome: SandboxRunner.Outcome, mode: Profile.Mode) -> String {
        var parts = ["cordon: \(name) exited \(outcome.exitStatus)"]
        if outcome.oomKills > 0 { parts.append("out of memory (\(outcome.oomKills) OOM kill\(outcome.oomKills == 1 ? "" : "s"))") }
        if mode == .unsafe {
            parts.append("workspace written directly (unsafe mode)")
        } else {
            let changed = countEntries(outcome.layout.upper)
            parts.append(changed == 0 ? "no changes" : "\(changed) change\(changed == 1 ? "" : "s") held for review: cordon diff \(name)")
        }
        return parts.joined(separator: "; ")
    }

    static func countEntries(_ dir: String) -> Int {
        guard let handle = opendir(dir) else { return 0 }
        defer { closedir(handle) }
        var count = 0
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name == "." || name == ".." { continue }
            if entry.pointee.d_type == UInt8(DT_DIR) {
                let sub = countEntries(dir + "/" + name)
                count += sub == 0 ? 1 : sub
            } else {
                count += 1
            }
        }
        return count
    }
}
