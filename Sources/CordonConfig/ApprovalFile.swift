public import CordonCore
public import CordonPolicy
import CordonOS

/// "Allow always" answers of a profile: `<config>/approvals/PROFILE.list`, one domain pattern
/// per line (`example.com`, `example.com:8443`). Loading a profile adds them to
/// `egress.domains`, so `cordon config compile` shows them; delete a line to take one back.
public struct ApprovalFile: Sendable {
    public let path: String

    public init(paths: CordonPaths, profile: String) {
        path = paths.configHome + "/approvals/" + profile + ".list"
    }

    /// The approved patterns as written (none when the file does not exist).
    public func read() throws(CordonError) -> [String] {
        try lines().map(\.text)
    }

    /// The approved patterns, each parsed once with the `egress.domains` grammar, and a problem
    /// (file, line, what is wrong) for each line the grammar refuses.
    public func patterns() throws(CordonError) -> (patterns: [EgressConfiguration.Pattern], problems: [ProfileDiagnostic]) {
        var patterns: [EgressConfiguration.Pattern] = []
        var problems: [ProfileDiagnostic] = []
        for (line, text) in try lines() {
            switch EgressConfiguration.allowedPattern(text) {
            case .success(let pattern): patterns.append(pattern)
            case .failure(let problem):
                problems.append(
                    ProfileDiagnostic(
                        location: .init(file: path, line: line, column: 1), field: "egress.domains",
                        message: "approved \"\(text)\" is not a valid pattern: \(problem.message)",
                        hint: "fix the line (\(DomainPattern.expected)) or delete it"))
            }
        }
        return (patterns, problems)
    }

    /// The pattern lines with their 1-based numbers: spaces dropped, blank and `#` lines skipped.
    private func lines() throws(CordonError) -> [(line: Int, text: String)] {
        guard ProfileFile.exists(path) else { return [] }
        let text = try ProfileFile.read(path)
        return text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().map { index, line in
            (index + 1, String(line.filter { $0 != " " && $0 != "\t" && $0 != "\r" }))
        }.filter { !$0.text.isEmpty && !$0.text.hasPrefix("#") }
    }

    /// The pattern that allows `host` (a name or an address, as the proxy normalised it) on
    /// `port` (nil: the default ports), as the allow-list grammar spells it: an IPv6 address in
    /// brackets, so that the file stays loadable.
    public static func pattern(host: String, port: Int?) -> String {
        let literal = IPAddress(host)?.hostLiteral ?? host
        return port.map { "\(literal):\($0)" } ?? literal
    }

    /// Adds `pattern` unless present; the file is replaced atomically. A pattern the allow-list
    /// grammar refuses is not written (it would stop every later load of the profile).
    public func add(_ pattern: String) throws(CordonError) {
        if case .failure(let problem) = EgressConfiguration.allowedPattern(pattern) {
            throw CordonError(.invalidArgument, "\"\(pattern)\" cannot be approved: \(problem)", hint: "approve a domain name, an address or NAME:PORT")
        }
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
    public mutating func applyApprovals(_ patterns: [EgressConfiguration.Pattern]) {
        for pattern in patterns where !egress.domains.contains(pattern) { egress.domains.append(pattern) }
    }
}
