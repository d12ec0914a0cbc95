/// The error every cordon module returns at its boundary: what happened, to what, and what to do.
///
/// Rendered as `file:line:col: message` followed by `  fix: hint` so a user can act on it.
public struct CordonError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Stable categories; scripts read them from `--json` output, so never rename one.
    public enum Code: String, Sendable, Codable, Equatable {
        /// An argument, a name or a request that cordon refuses as written.
        case invalidArgument = "invalid_argument"
        /// A profile or preset that does not parse or validate; `location` points into it.
        case invalidProfile = "invalid_profile"
        /// A named file, profile, preset, sandbox or workspace that does not exist.
        case notFound = "not_found"
        /// A sandbox name already in use: running, or made for another workspace or mode.
        case alreadyExists = "already_exists"
        /// A request cordon cannot serve: a backend not built yet, more mounts or uid ranges than
        /// it has.
        case unsupported = "unsupported"
        /// The host lacks what a sandbox needs (user namespaces, cgroup delegation, …).
        case hostNotReady = "host_not_ready"
        /// A system call failed; `cause` holds the errno text.
        case systemCall = "system_call"
        /// The sandbox could not be built, so the command did not run.
        case sandboxSetup = "sandbox_setup"
        /// A sync refused: its profile is not trusted, or a change cannot be applied safely (a
        /// special file, a path that would lead outside the workspace).
        case policyDenied = "policy_denied"
        /// A file could not be read or written.
        case io = "io"
        /// A bug in cordon: a state its own code should never reach.
        case `internal` = "internal"
    }

    /// Where in an input file the problem is.
    public struct Location: Sendable, Equatable, Codable, CustomStringConvertible {
        public var file: String
        /// 1-based; nil when the problem is the file as a whole.
        public var line: Int?
        /// 1-based; shown only with a line above 0.
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
    /// What happened, to what.
    public var message: String
    /// What the user can do about it, printed after `fix:`; nil when there is nothing to do.
    public var hint: String?
    /// The input file (and line, column) at fault, when the error is about one.
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
