public import CordonCore
import CordonOS
import Glibc

/// `cordon port`'s side: asks the supervisor of a sandbox brought up (`<sandbox>/port.sock`) to
/// add, remove or list forwards.
public enum PortClient {
    /// The forwards now (sorted by host port) and, for an add, the one added (its host port is
    /// the one the host picked for 0); for a removal, the one removed.
    public struct Answer: Sendable {
        public var forwards: [PortForward]
        public var added: PortForward?
        public var removed: PortForward?
    }

    public static func list(name: String, layout: SandboxLayout) throws(CordonError) -> Answer {
        try send(.list, name: name, layout: layout)
    }

    public static func add(_ forward: PortForward, name: String, layout: SandboxLayout) throws(CordonError) -> Answer {
        try send(.add(forward), name: name, layout: layout)
    }

    public static func remove(hostPort: UInt16, name: String, layout: SandboxLayout) throws(CordonError) -> Answer {
        try send(.remove(hostPort: hostPort), name: name, layout: layout)
    }

    static func send(_ op: PortWire.Op, name: String, layout: SandboxLayout) throws(CordonError) -> Answer {
        let socket: FileDescriptor
        do throws(SystemError) { socket = try UnixSocket.connect(layout.portSocket) } catch {
            guard error.errno == ENOENT || error.errno == ECONNREFUSED else { throw error.cordonError(.io, "cannot reach sandbox \(name)") }
            _ = try SandboxLookup.existing(layout, name: name)
            if layout.isRunning, FileIO.kind(layout.execSocket) == .missing {
                throw CordonError(
                    .invalidArgument, "sandbox \(name) runs as a one-shot `cordon run`: ports are forwarded into sandboxes brought up",
                    hint: "bring it up with `cordon up --name \(name)` once this run has ended")
            }
            throw SandboxLookup.notRunning(name)
        }
        socket.setReceiveTimeout(seconds: 10)
        do throws(SystemError) { try socket.writeAll(Array((op.json.encoded() + "\n").utf8)) } catch {
            throw error.cordonError(.io, "cannot talk to sandbox \(name)")
        }
        var reply: [UInt8] = []
        while !reply.contains(UInt8(ascii: "\n")) && reply.count < 1 << 20 {
            guard let chunk = try? socket.read(upTo: 65536), !chunk.isEmpty else { break }
            reply += chunk
        }
        guard let json = try? JSONValue.parse(Array(reply.prefix { $0 != UInt8(ascii: "\n") })) else {
            throw CordonError(.io, "sandbox \(name) gave no answer", hint: "is it still running? `cordon status \(name)`")
        }
        let outcome = try PortWire.outcome(json)
        return Answer(forwards: outcome.forwards, added: outcome.added, removed: outcome.removed)
    }
}
