import CordonCore
import CordonNet
import CordonOS
import FoundationEssentials
import Glibc

/// Talks to a running sandbox's supervisor over its control socket.
struct ControlClient {
    let name: String
    let layout: SandboxLayout

    /// `timeout`: seconds to wait for the supervisor's answer.
    init(name: String, stateDir: String?, timeout: Int = 10) throws(CordonError) {
        self.name = name
        self.layout = try SandboxLayout.selected(name: name, stateDir: stateDir)
        self.timeout = timeout
    }

    init(name: String, layout: SandboxLayout, timeout: Int) {
        self.name = name
        self.layout = layout
        self.timeout = timeout
    }

    let timeout: Int

    /// The sandbox's record (its profile), or a clear error when there is no such sandbox.
    func record() throws(CordonError) -> SandboxRecord { try layout.loadRecord() }

    /// Sends one request; nil when the sandbox is not running (no socket, or nobody listening).
    func send(_ request: ControlMessage.Request) throws(CordonError) -> ControlMessage.Response? {
        let socket: FileDescriptor
        do throws(SystemError) {
            socket = try UnixSocket.connect(layout.controlSocket)
        } catch {
            if error.errno == ENOENT || error.errno == ECONNREFUSED { return nil }
            throw error.cordonError(.io, "cannot reach sandbox \(name)")
        }
        socket.setReceiveTimeout(seconds: timeout)
        var line: [UInt8]
        do { line = try [UInt8](JSONEncoder().encode(request)) } catch { throw CordonError(.internal, "cannot encode the request", cause: "\(error)") }
        line.append(UInt8(ascii: "\n"))
        do throws(SystemError) { try socket.writeAll(line) } catch { throw error.cordonError(.io, "cannot talk to sandbox \(name)") }
        var reply: [UInt8] = []
        while !reply.contains(UInt8(ascii: "\n")) {
            guard let chunk = try? socket.read(upTo: 4096), !chunk.isEmpty else { break }
            reply += chunk
        }
        do {
            return try JSONDecoder().decode(ControlMessage.Response.self, from: Data(reply.prefix { $0 != UInt8(ascii: "\n") }))
        } catch {
            throw CordonError(.io, "sandbox \(name) gave no answer", hint: "is it still running? `cordon net log \(name)`")
        }
    }
}
