public import CordonCore
import CordonOS

/// One `cordon port` forward: the host listens on 127.0.0.1:`hostPort` and carries each
/// connection to 127.0.0.1:`sandboxPort` inside the sandbox's network namespace. Nothing else
/// is a target: not another address inside, not one the agent names.
public struct PortForward: Sendable, Equatable {
    /// The only host address a forward listens on (other local users can connect to it too:
    /// docs/threat-model.md).
    public static let hostAddress = "127.0.0.1"

    public var hostPort: UInt16
    public var sandboxPort: UInt16

    public init(hostPort: UInt16, sandboxPort: UInt16) {
        self.hostPort = hostPort
        self.sandboxPort = sandboxPort
    }

    /// `HOSTPORT:SANDBOXPORT` as the user gives it; HOSTPORT 0 lets the host choose.
    public static func parse(_ text: String) throws(CordonError) -> PortForward {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw CordonError(
                .invalidArgument, "\"\(text)\" is not a port mapping", hint: "give HOSTPORT:SANDBOXPORT, e.g. `8080:3000`; HOSTPORT 0 picks a free port")
        }
        let host = try port(String(parts[0]), what: "the host port of \"\(text)\"", allowZero: true)
        let sandbox = try port(String(parts[1]), what: "the sandbox port of \"\(text)\"", allowZero: false)
        return PortForward(hostPort: host, sandboxPort: sandbox)
    }

    /// A port number in decimal: 1-65535 (0 too with `allowZero`). `what` names the argument.
    public static func port(_ text: String, what: String, allowZero: Bool) throws(CordonError) -> UInt16 {
        let lowest = allowZero ? 0 : 1
        guard !text.isEmpty, text.utf8.count <= 5, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            throw CordonError(.invalidArgument, "\(what) is not a port number: \"\(text)\"", hint: "give a number from \(lowest) to 65535")
        }
        guard let value = Int(text), value >= lowest, value <= 65535 else {
            throw CordonError(.invalidArgument, "\(what) is out of range: \(text)", hint: "give a number from \(lowest) to 65535")
        }
        return UInt16(value)
    }

    /// `127.0.0.1:8080 -> 3000`.
    public var description: String { "\(Self.hostAddress):\(hostPort) -> \(sandboxPort)" }

    /// As docs/json.md spells a forward.
    public var json: JSONValue {
        .object([("host_address", .string(Self.hostAddress)), ("host_port", .int(Int(hostPort))), ("sandbox_port", .int(Int(sandboxPort)))])
    }

    /// A forward from its JSON; nil when a field is missing or out of range.
    init?(json: JSONValue) {
        guard case .int(let host)? = json["host_port"], case .int(let sandbox)? = json["sandbox_port"], (1...65535).contains(host),
            (1...65535).contains(sandbox)
        else { return nil }
        self.init(hostPort: UInt16(host), sandboxPort: UInt16(sandbox))
    }

    /// `{"version":1,"forwards":[…]}`: what `<sandbox>/ports.json` and the supervisor's answers hold.
    static func listJSON(_ forwards: [PortForward]) -> JSONValue {
        .object([("version", .int(1)), ("forwards", .array(forwards.map(\.json)))])
    }

    /// The forwards of `json` (`listJSON`'s shape); entries that are not forwards are left out.
    static func list(from json: JSONValue) -> [PortForward] {
        guard case .array(let items)? = json["forwards"] else { return [] }
        return items.compactMap(PortForward.init(json:))
    }

    /// The forwards the running supervisor of `layout` wrote (`ports.json`); none when it wrote
    /// none, or the file is not what it writes (read bounded; a crashed supervisor's file is not
    /// asked about: callers read it for a running sandbox only).
    public static func recorded(_ layout: SandboxLayout) -> [PortForward] {
        guard let bytes = try? FileIO.readFile(layout.portsRecord, limit: 1 << 20), let json = try? JSONValue.parse(bytes) else { return [] }
        return list(from: json)
    }
}

extension SandboxLayout {
    /// Where the supervisor of a sandbox brought up serves `cordon port` (mode 0600).
    public var portSocket: String { directory + "/port.sock" }
    /// The forwards the supervisor holds now, for `cordon status` (removed when it stops).
    public var portsRecord: String { directory + "/ports.json" }
}
