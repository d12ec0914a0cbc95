/// The error every cordon module returns at its boundary: what happened, to what, and what to do.
///
/// Rendered as `file:line:col: message` followed by `  fix: hint` so a user can act on it.
public struct CordonError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Stable categories; scripts read them from `--json` output, so never rename one.
    public enum Code: String, Sendable, Codable, Equatable {
        case invalidArgument = "invalid_argument"
        case invalidProfile = "invalid_profile"
        case notFound = "not_found"
        case alreadyExists = "already_exists"
        case unsupported = "unsupported"
        case hostNotReady = "host_not_ready"
        case systemCall = "system_call"
        case sandboxSetup = "sandbox_setup"
        case policyDenied = "policy_denied"
        case io = "io"
        case `internal` = "internal"
    }

    /// Where in an input file the problem is.
    public struct Location: Sendable, Equatable, Codable, CustomStringConvertible {
        public var file: String
        public var line: Int?
        public var column: Int?

        public init(file: String, line: Int? = nil, column: Int? = nil) {
            self.file = file
            self.line = line
            self.column = column
        }

        public var description: String {
            var text = file
            if let line { text += ":\(line)" }
            if let line, let column, line > 0 { text += ":\(column)" }
            return text
        }
    }

    public var code: Code
    public var message: String
    public var hint: String?
    public var location: Location?
    /// The underlying error's description, if any (errno text, a decoder message, …).
    public var cause: String?

    public init(_ code: Code, _ message: String, hint: String? = nil, location: Location? = nil, cause: String? = nil) {
        self.code = code
        self.message = message
        self.hint = hint
        self.location = location
        self.cause = cause
    }

    public var description: String {
        var text = ""
        if let location { text += "\(location): " }
        text += message
        if let cause, !cause.isEmpty { text += " (\(cause))" }
        if let hint, !hint.isEmpty { text += "\n  fix: \(hint)" }
        return text
    }
}
