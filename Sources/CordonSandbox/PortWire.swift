import CordonCore

/// What `cordon port` and the supervisor's `PortService` say on `<sandbox>/port.sock`: one JSON
/// line each way.
/// Requests: `{"op":"list"}`, `{"op":"add","host_port":N,"sandbox_port":M}` (N 0: the host picks),
/// `{"op":"remove","host_port":N}`. Answers: `{"ok":true,"forwards":[…],"added":{…}}` (`added`
/// for an add: the port the host picked; `removed` for a removal) or `{"ok":false,"error":"…","hint":"…","code":"…"}`.
enum PortWire {
    static let requestLimit = 4096

    enum Op: Equatable {
        case list
        case add(PortForward)
        case remove(hostPort: UInt16)

        var json: JSONValue {
            switch self {
            case .list: return .object([("op", .string("list"))])
            case .add(let forward):
                return .object([("op", .string("add")), ("host_port", .int(Int(forward.hostPort))), ("sandbox_port", .int(Int(forward.sandboxPort)))])
            case .remove(let hostPort): return .object([("op", .string("remove")), ("host_port", .int(Int(hostPort)))])
            }
        }

        /// The request of `json`; nil when it is none (an unknown op, a port out of range).
        init?(_ json: JSONValue) {
            guard case .string(let op)? = json["op"] else { return nil }
            func port(_ key: String, _ range: ClosedRange<Int>) -> UInt16? {
                guard case .int(let value)? = json[key], range.contains(value) else { return nil }
                return UInt16(value)
            }
            switch op {
            case "list": self = .list
            case "add":
                guard let host = port("host_port", 0...65535), let sandbox = port("sandbox_port", 1...65535) else { return nil }
                self = .add(PortForward(hostPort: host, sandboxPort: sandbox))
            case "remove":
                guard let host = port("host_port", 1...65535) else { return nil }
                self = .remove(hostPort: host)
            default: return nil
            }
        }
    }

    static func success(forwards: [PortForward], added: PortForward? = nil, removed: PortForward? = nil) -> JSONValue {
        var pairs: [(String, JSONValue)] = [("ok", .bool(true)), ("forwards", .array(forwards.map(\.json)))]
        if let added { pairs.append(("added", added.json)) }
        if let removed { pairs.append(("removed", removed.json)) }
        return .object(pairs)
    }

    static func failure(_ error: CordonError) -> JSONValue {
        var pairs: [(String, JSONValue)] = [("ok", .bool(false)), ("error", .string(error.message)), ("code", .string(error.code.rawValue))]
        if let hint = error.hint { pairs.append(("hint", .string(hint))) }
        return .object(pairs)
    }

    /// The answer's forwards and the one added; its error when it says one.
    static func outcome(_ json: JSONValue) throws(CordonError) -> (forwards: [PortForward], added: PortForward?, removed: PortForward?) {
        guard case .bool(let ok)? = json["ok"] else { throw CordonError(.io, "the sandbox's supervisor gave no answer") }
        guard ok else {
            var message = "the sandbox's supervisor refused the request"
            if case .string(let text)? = json["error"] { message = text }
            var hint: String?
            if case .string(let text)? = json["hint"] { hint = text }
            var code = CordonError.Code.invalidArgument
            if case .string(let text)? = json["code"], let known = CordonError.Code(rawValue: text) { code = known }
            throw CordonError(code, message, hint: hint)
        }
        let added = json["added"].flatMap(PortForward.init(json:))
        let removed = json["removed"].flatMap(PortForward.init(json:))
        return (PortForward.list(from: json), added, removed)
    }
}
