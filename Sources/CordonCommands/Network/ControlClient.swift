import CCordon
import CordonCore
import CordonNet
import FoundationEssentials
import Glibc

/// Talks to a running sandbox's supervisor over its control socket.
struct ControlClient {
    let name: String
    let layout: SandboxLayout

    init(name: String, stateDir: String?) throws(CordonError) {
        self.name = name
        self.layout = try SandboxLayout.selected(name: name, stateDir: stateDir)
    }

    /// The sandbox's record (its profile), or a clear error when there is no such sandbox.
    func record() throws(CordonError) -> SandboxRecord { try layout.loadRecord() }

    /// Sends one request; nil when the sandbox is not running (no socket, or nobody listening).
    func send(_ request: ControlMessage.Request) throws(CordonError) -> ControlMessage.Response? {
        let fd = ccordon_unix_connect(layout.controlSocket)
        guard fd >= 0 else {
            if -fd == ENOENT || -fd == ECONNREFUSED { return nil }
            throw CordonError(.io, "cannot reach sandbox \(name)", cause: String(cString: strerror(-fd)))
        }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var line: [UInt8]
        do { line = try [UInt8](JSONEncoder().encode(request)) } catch { throw CordonError(.internal, "cannot encode the request", cause: "\(error)") }
        line.append(UInt8(ascii: "\n"))
        guard line.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == line.count else {
            throw CordonError(.io, "cannot talk to sandbox \(name)", cause: String(cString: strerror(errno)))
        }
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !reply.contains(UInt8(ascii: "\n")) {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            reply += buffer.prefix(n)
        }
        do {
            return try JSONDecoder().decode(ControlMessage.Response.self, from: Data(reply.prefix { $0 != UInt8(ascii: "\n") }))
        } catch {
            throw CordonError(.io, "sandbox \(name) gave no answer", hint: "is it still running? `cordon net log \(name)`")
        }
    }
}
