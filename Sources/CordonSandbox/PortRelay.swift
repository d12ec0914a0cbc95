import CordonCore
import CordonOS
import Glibc
import Synchronization

/// The connections `cordon port` carries for one sandbox: each accepted host connection is
/// connected to 127.0.0.1:PORT inside the sandbox's network namespace (`NetworkNamespace`) and
/// relayed both ways by two threads on blocking sockets, through a fixed buffer each (a slow
/// reader holds its writer back, nothing piles up here). The end of one direction is passed on
/// as a half-close; an error ends both. Connections live in the supervisor: its exit ends them.
final class PortRelay: Sendable {
    /// Connections carried at once per forward; more are closed at once (and said in the log).
    static let connectionLimit = 128
    /// Bytes a direction holds at a time.
    static let bufferSize = 64 * 1024
    /// How long connecting inside may take (a listener whose backlog is full).
    static let connectTimeoutMilliseconds: Int32 = 5000

    private struct Open {
        var hostPort: UInt16
        var client: Int32
        var upstream: Int32
    }

    private struct Shared {
        var open: [UInt64: Open] = [:]
        var connecting: [UInt16: Int] = [:]
        var nextID: UInt64 = 1
        /// Forwards removed (their connections being connected are closed, not carried).
        var closed: Set<UInt16> = []
        var stopped = false
        /// When each forward last wrote a failure line, and how many it left out since.
        var lastLine: [UInt16: (time: Double, skipped: Int)] = [:]
    }

    private let namespace: NetworkNamespace
    private let shared = Mutex(Shared())
    private let log: @Sendable (String) -> Void

    init(namespace: NetworkNamespace, log: @escaping @Sendable (String) -> Void) {
        self.namespace = namespace
        self.log = log
    }

    /// Takes `client` (accepted on the forward's listener; owned from here) to `forward`'s sandbox
    /// port, on a thread of its own: the caller never waits for the sandbox.
    func carry(_ client: Int32, for forward: PortForward) {
        let admitted = shared.withLock { shared -> Bool in
            guard !shared.stopped, !shared.closed.contains(forward.hostPort) else { return false }
            let open = shared.open.values.count { $0.hostPort == forward.hostPort } + shared.connecting[forward.hostPort, default: 0]
            guard open < Self.connectionLimit else { return false }
            shared.connecting[forward.hostPort, default: 0] += 1
            return true
        }
        guard admitted else {
            close(client)
            note(forward, "\(Self.connectionLimit) connections are open already; this one was closed")
            return
        }
        guard Self.detached({ [self] in connect(client, for: forward) }) else {
            shared.withLock { $0.connecting[forward.hostPort, default: 1] -= 1 }
            close(client)
            note(forward, "no thread could be made for the connection; it was closed")
            return
        }
    }

    /// A forward is re-added after a removal: its connections are carried again.
    func reopen(_ hostPort: UInt16) {
        shared.withLock { _ = $0.closed.remove(hostPort) }
    }

    /// Ends the connections of `hostPort` (a removed forward): both sockets shut down, the
    /// threads then close them.
    func end(_ hostPort: UInt16) {
        shared.withLock { shared in
            shared.closed.insert(hostPort)
            for connection in shared.open.values where connection.hostPort == hostPort { Self.shutdownBoth(connection) }
        }
    }

    /// Ends every connection; later ones are refused.
    func stop() {
        shared.withLock { shared in
            shared.stopped = true
            for connection in shared.open.values { Self.shutdownBoth(connection) }
        }
    }

    private static func shutdownBoth(_ connection: Open) {
        shutdown(connection.client, Int32(SHUT_RDWR))
        shutdown(connection.upstream, Int32(SHUT_RDWR))
    }

    // MARK: One connection

    private func connect(_ client: Int32, for forward: PortForward) {
        let upstream: Int32
        do throws(SystemError) {
            upstream = try namespace.connectLoopback(port: forward.sandboxPort, timeoutMilliseconds: Self.connectTimeoutMilliseconds).take()
        } catch {
            shared.withLock { $0.connecting[forward.hostPort, default: 1] -= 1 }
            close(client)
            let reason = error.errno == ECONNREFUSED ? "nothing listens on 127.0.0.1:\(forward.sandboxPort) in the sandbox" : error.description
            note(forward, "\(reason); the client's connection was closed")
            return
        }
        let id = shared.withLock { shared -> UInt64? in
            shared.connecting[forward.hostPort, default: 1] -= 1
            guard !shared.stopped, !shared.closed.contains(forward.hostPort) else { return nil }
            let id = shared.nextID
            shared.nextID += 1
            shared.open[id] = Open(hostPort: forward.hostPort, client: client, upstream: upstream)
            return id
        }
        guard let id else {
            close(client)
            close(upstream)
            return
        }
        let remaining = Atomic<Int>(2)
        let finish: @Sendable () -> Void = { [self] in
            guard remaining.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 else { return }
            // Closed under the lock: `end`/`stop` never shut down a number reused meanwhile.
            shared.withLock { shared in
                shared.open.removeValue(forKey: id)
                close(client)
                close(upstream)
            }
        }
        guard Self.detached({ Self.copy(from: upstream, to: client, finish: finish) }) else {
            shared.withLock { shared in if let connection = shared.open[id] { Self.shutdownBoth(connection) } }
            finish()
            finish()
            return
        }
        Self.copy(from: client, to: upstream, finish: finish)
    }

    /// One direction: until `source` ends (its end passed on: `sink` half-closed) or an error
    /// (both sockets shut down, which wakes the other direction).
    private static func copy(from source: Int32, to sink: Int32, finish: @Sendable () -> Void) {
        defer { finish() }
        var buffer = [UInt8](repeating: 0, count: bufferSize)
        let ended = buffer.withUnsafeMutableBytes { raw -> Bool in
            guard let base = raw.baseAddress else { return false }
            while true {
                let n = recv(source, base, raw.count, 0)
                if n == 0 { return true }
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                var sent = 0
                while sent < n {
                    let m = send(sink, base + sent, n - sent, Int32(MSG_NOSIGNAL))
                    if m < 0 && errno == EINTR { continue }
                    guard m > 0 else { return false }
                    sent += m
                }
            }
        }
        if ended {
            shutdown(sink, Int32(SHUT_WR))
        } else {
            shutdown(source, Int32(SHUT_RDWR))
            shutdown(sink, Int32(SHUT_RDWR))
        }
    }

    /// A detached thread with a small stack; false when none could be made.
    private static func detached(_ work: @escaping @Sendable () -> Void) -> Bool {
        OSThread.detached(stackSize: 256 * 1024, work)
    }

    // MARK: The log

    /// Seconds between two failure lines of one forward (the rest are counted into the next).
    static let lineInterval = 10.0

    /// One line to the sandbox's log (`cordon logs NAME`) about a connection `forward` could not
    /// carry, at most one per forward every `lineInterval`.
    private func note(_ forward: PortForward, _ what: String) {
        let now = WallClock.monotonic()
        let skipped = shared.withLock { shared -> Int? in
            let last = shared.lastLine[forward.hostPort]
            if let last, now - last.time < Self.lineInterval {
                shared.lastLine[forward.hostPort]?.skipped += 1
                return nil
            }
            shared.lastLine[forward.hostPort] = (now, 0)
            return last?.skipped ?? 0
        }
        guard let skipped else { return }
        let more = skipped > 0 ? " (\(skipped) more since the last line)" : ""
        log("cordon: port \(forward.description): \(what)\(more)")
    }
}
