import CordonCore

/// What the HTTP bridge reads of a JSON-RPC message: whether it is a request (a `method` and an
/// `id`), a response (an `id` and a `result` or `error`) or a notification, and its id. The rest
/// of the message is never looked at; the bytes relayed are the bytes received.
public enum JSONRPCEnvelope: Equatable, Sendable {
    case request(id: String)
    case response(id: String)
    /// A notification, or anything else with no id to answer.
    case notification

    /// One message (a JSON object); nil when `bytes` is not one (a batch, a scalar, not JSON).
    public static func classify(_ bytes: [UInt8]) -> JSONRPCEnvelope? {
        guard let value = try? JSONValue.parse(bytes), case .object = value else { return nil }
        let id = value["id"].flatMap(key)
        if value["method"] != nil { return id.map { .request(id: $0) } ?? .notification }
        if let id, value["result"] != nil || value["error"] != nil { return .response(id: id) }
        return .notification
    }

    /// An id as a key: strings and integers are different ids even when they read the same.
    static func key(_ id: JSONValue) -> String? {
        switch id {
        case .string(let text): return "s:" + text
        case .int(let number): return "n:\(number)"
        default: return nil
        }
    }

    /// `bytes` as one line for the server's stdin: JSON's insignificant whitespace may hold
    /// newlines (a JSON string cannot), so CR and LF become spaces and the message is unchanged.
    public static func line(_ bytes: [UInt8]) -> [UInt8] {
        bytes.map { $0 == 0x0A || $0 == 0x0D ? 0x20 : $0 } + [0x0A]
    }
}
