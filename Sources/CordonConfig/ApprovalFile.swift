public import CordonCore
import CordonOS

/// "Allow always" answers of a profile: `<config>/approvals/PROFILE.list`, one domain pattern
/// per line (`example.com`, `example.com:8443`). Loading a profile adds them to
/// `egress.domains`, so `cordon config compile` shows them; delete a line to take one back.
public struct ApprovalFile: Sendable {
    public let path: String

    public init(paths: CordonPaths, profile: String) {
        path = paths.configHome + "/approvals/" + profile + ".list"
    }

    /// The approved patterns (none when the file does not exist).
    public func read() throws(CordonError) -> [String] {
        guard ProfileFile.exists(path) else { return [] }
        let text = try ProfileFile.read(path)
        return text.split(separator: "\n").map { line in String(line.filter { $0 != " " && $0 != "\t" && $0 != "\r" }) }.filter {
            !$0.isEmpty && !$0.hasPrefix("#")
        }
    }

    /// Adds `pattern` unless present; the file is replaced atomically.
    public func add(_ pattern: String) throws(CordonError) {
        var entries = try read()
        guard !entries.contains(pattern) else { return }
        entries.append(pattern)
        let text = "# cordon: domains approved with \"allow always\"; one per line, delete a line to revoke\n" + entries.joined(separator: "\n") + "\n"
        do {
            try FileIO.writeAtomically(path, Array(text.utf8), mode: 0o600)
        } catch {
            throw CordonError(.io, "cannot write \(path)", cause: error.description)
        }
    }
}

extension Profile {
    /// Adds approved patterns to `egress.domains` (skipping ones already listed).
    public mutating func applyApprovals(_ patterns: [String]) {
        for pattern in patterns where !egress.domains.contains(pattern) { egress.domains.append(pattern) }
    }
}
