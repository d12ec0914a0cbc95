import CordonCore

/// One thing the gate found: a secret, a policy violation, a trap, a conflict.
public struct Finding: Sendable, Equatable, Codable {
    public enum Severity: String, Sendable, Codable, Equatable, Comparable, CaseIterable {
        /// Shown, never blocks.
        case note
        /// Needs explicit approval (`--yes`, or the interactive confirm); `--auto` holds it.
        case approval
        /// The host file changed since the sandbox started; `--force` overwrites it.
        case conflict
        /// Refused: never applied.
        case block

        private var rank: Int {
            switch self {
            case .note: 0
            case .approval: 1
            case .conflict: 2
            case .block: 3
            }
        }
        public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
    }

    /// The rule that found it (`github-pat`, `trap-git-hooks`, `scan-too-large`, …).
    public var ruleID: String
    public var severity: Severity
    /// Relative to the scanned root (or the workspace for the sync gate).
    public var path: String
    /// 1-based, when the finding is about a place in the file.
    public var line: Int?
    /// 1-based, with `line`.
    public var column: Int?
    /// What was found: the rule's description, or a sentence naming the entry.
    public var message: String
    /// The matched secret, redacted (first characters kept, the rest masked).
    public var match: String?
    /// The secret's Shannon entropy in bits per character, to two places; nil for other findings.
    public var entropy: Double?
    /// What the user should do about it.
    public var fix: String
    /// For a finding inside a compressed file or archive: the member, below `path`
    /// (`config/.env`, or `inner.tar.gz!/x` for one nested in another). `path` stays the file
    /// the gate holds.
    public var member: String?
    /// The encodings the secret was found beneath, outermost first (`UTF-16LE`, `base64`, `hex`,
    /// `percent`); nil for a secret in the text as written.
    public var decoded: [String]?

    /// `path:line:col: severity rule-id: message`.
    public var rendered: String {
        // Paths, members, messages (which quote names and targets) and matches come from the
        // agent's files: escaped for the terminal.
        var location = TerminalText.escaped(path)
        if let member { location += "!/" + TerminalText.escaped(member) }
        if let line { location += ":\(line)" }
        if let line, let column, line > 0 { location += ":\(column)" }
        var text = "\(location): \(severity.rawValue) [\(ruleID)] \(TerminalText.escapedContent(message))"
        if let match { text += " (\(TerminalText.escaped(match)))" }
        if let decoded, !decoded.isEmpty { text += " [decoded: \(decoded.joined(separator: " → "))]" }
        text += "\n  fix: \(TerminalText.escapedContent(fix))"
        return text
    }
}

extension Finding {
    /// A finding about an entry as a whole (a path rule, a trap, a conflict): no place in the
    /// file, no matched secret. The scanner's own findings carry those too.
    public init(ruleID: String, severity: Severity, path: String, message: String, fix: String) {
        self.init(ruleID: ruleID, severity: severity, path: path, line: nil, message: message, fix: fix)
    }
}
