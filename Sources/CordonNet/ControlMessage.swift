/// The wire format of a sandbox's control socket (`<state>/sandboxes/NAME/control.sock`): one JSON
/// object per line each way. Commands such as `cordon approvals`, `cordon allow` and `cordon deny`
/// talk to the running supervisor through it; later commands (status, exec) extend `op`.
public enum ControlMessage {
    /// What a request asks; on the wire, its raw value.
    public enum Op: String, Codable, Sendable, Equatable {
        /// List the pending approval requests.
        case approvals
        /// Answer one (`id`) or every request to a host (`host`).
        case answer
    }

    public struct Request: Codable, Sendable, Equatable {
        public var op: Op
        /// `answer` without `id`: every pending request to this host.
        public var host: String?
        /// `answer`: the one pending request with this id, as `approvals` lists it.
        public var id: Int?
        /// `once`, `always` or `deny`.
        public var answer: String?

        public init(op: Op, host: String? = nil, id: Int? = nil, answer: String? = nil) {
            self.op = op
            self.host = host
            self.id = id
            self.answer = answer
        }
    }

    public struct Response: Codable, Sendable, Equatable {
        public var ok: Bool
        public var error: String?
        public var pending: [ApprovalBroker.Request]?
        /// Connections released by an answer.
        public var released: Int?

        public init(ok: Bool, error: String? = nil, pending: [ApprovalBroker.Request]? = nil, released: Int? = nil) {
            self.ok = ok
            self.error = error
            self.pending = pending
            self.released = released
        }
    }

    public static func answer(_ text: String) -> ApprovalAnswer? {
        switch text {
        case "once": .allowOnce
        case "always": .allowAlways
        case "deny": .deny
        default: nil
        }
    }
}
