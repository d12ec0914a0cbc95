import CordonOS
import Glibc
import Synchronization

/// A TCP listener on host loopback that stands in for an exfiltration or command-and-control
/// target: it accepts every connection on a thread of its own and records the bytes each sent,
/// so that a verdict is what the server saw, never what the attacker said.
public final class StandInServer: Sendable {
    /// The port it listens on (127.0.0.1).
    public let port: UInt16
    private let listener: Int32
    private let state = Mutex<(connections: Int, received: [UInt8], stopped: Bool)>((0, [], false))
    /// Bytes kept of everything received.
    static let limit = 1 << 20

    /// Listens on 127.0.0.1:`port` (0: any free port) and starts accepting.
    public init(port: UInt16 = 0) throws(SelftestFailure) {
        do {
            let fd = try CaptureNetwork.listenLoopback(SOCK_STREAM, port: port, backlog: 64).take()
            listener = fd
            self.port = try LoopbackListener.localPort(fd)
        } catch {
            throw SelftestFailure("cannot listen on 127.0.0.1: \(error)")
        }
        let this = self
        guard OSThread.detached(stackSize: 256 * 1024, { this.serve() }) else {
            close(listener)
            throw SelftestFailure("cannot start the stand-in server's thread")
        }
    }

    /// Connections accepted so far.
    public var connections: Int { state.withLock { $0.connections } }
    /// Everything received so far, all connections in order of arrival (up to 1 MiB).
    public var received: [UInt8] { state.withLock { $0.received } }

    /// Whether `marker` arrived in any connection.
    public func saw(_ marker: String) -> Bool {
        let bytes = Array(marker.utf8)
        let got = received
        guard bytes.count <= got.count, !bytes.isEmpty else { return false }
        return (0...(got.count - bytes.count)).contains { got[$0..<($0 + bytes.count)].elementsEqual(bytes) }
    }

    /// Stops accepting (the thread ends at its next wake-up).
    public func stop() {
        let first = state.withLock { s in
            defer { s.stopped = true }
            return !s.stopped
        }
        if first { shutdown(listener, Int32(SHUT_RDWR)) }
    }

    private func serve() {
        defer { close(listener) }
        while !state.withLock({ $0.stopped }) {
            var wait = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&wait, 1, 200) >= 0 || errno == EINTR else { return }
            guard wait.revents != 0 else { continue }
            guard let client = LoopbackListener.accept(listener) else { continue }
            state.withLock { $0.connections += 1 }
            // One connection at a time: each is read until it ends or is quiet for 2 s.
            var buffer = [UInt8](repeating: 0, count: 16 * 1024)
            while true {
                var ready = pollfd(fd: client, events: Int16(POLLIN), revents: 0)
                guard poll(&ready, 1, 2000) > 0 else { break }
                let n = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
                guard n > 0 else { break }
                state.withLock { s in s.received += buffer[0..<max(0, min(n, Self.limit - s.received.count))] }
            }
            close(client)
        }
    }
}
