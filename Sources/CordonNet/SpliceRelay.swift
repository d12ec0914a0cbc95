import CCordon
import CordonCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Relays established tunnels inside the kernel: bytes go socket → pipe → socket with splice(2)
/// and are never copied into this process. A tunnel starts in NIO (the CONNECT, the SNI gate,
/// the first bytes) and moves here once it carries bulk data (`TunnelMover`): NIO's glue copies
/// every byte in and out, this halves the proxy's CPU per gigabyte.
///
/// One thread and one edge-triggered epoll set serve every moved tunnel. Per tunnel and
/// direction: the pipe is filled from the source and emptied into the sink; end of input
/// becomes a half-close of the sink once everything before it is out. The tunnel ends when both directions have, on an error, after
/// `idleTimeout` without a byte moving, or at `stop`; its log line is written then.
public final class SpliceRelay: Sendable {
    /// A tunnel NIO hands over with nothing read and not written: duplicates of both sockets
    /// (owned by the relay from here on), its pipes, its flow record.
    struct Handover: Sendable {
        var client: Int32
        var upstream: Int32
        var pipes: Pipes
        var record: FlowRecord?

        /// Closes every descriptor (a handover that is not adopted).
        func discard() {
            for fd in [client, upstream] { close(fd) }
            pipes.close()
        }
    }

    /// Two pipes, one per direction: (read end, write end) each.
    struct Pipes: Sendable {
        var up: (read: Int32, write: Int32)
        var down: (read: Int32, write: Int32)
        var capacity: Int

        /// Both pipes at `size` bytes where the kernel allows it; nil when a pipe cannot be made.
        static func make(size: Int) -> Pipes? {
            var up: [Int32] = [-1, -1]
            var down: [Int32] = [-1, -1]
            var capacity: Int32 = 0
            guard ccordon_relay_pipe(&up, Int32(size), &capacity) == 0 else { return nil }
            guard ccordon_relay_pipe(&down, Int32(size), nil) == 0 else {
                for fd in up { Glibc.close(fd) }
                return nil
            }
            return Pipes(up: (up[0], up[1]), down: (down[0], down[1]), capacity: Int(capacity))
        }

        func close() {
            for fd in [up.read, up.write, down.read, down.write] { Glibc.close(fd) }
        }
    }

    private struct Shared {
        var incoming: [Handover] = []
        var stopping = false
        var thread: pthread_t?
        var epoll: Int32 = -1
        var wake: Int32 = -1
        var adopted = 0
        var active = 0
    }

    private let shared = Mutex(Shared())
    /// Bytes a tunnel carries one way in NIO before it moves here.
    let threshold: Int
    let idleTimeout: Double
    let pipeSize: Int

    /// `idleTimeout` in seconds; `pipeSize` per direction (fs.pipe-max-size caps it for
    /// unprivileged users; past fs.pipe-user-pages-soft the kernel's default stays).
    init(threshold: Int, idleTimeout: Double, pipeSize: Int = 1 << 20) {
        self.threshold = max(1, threshold)
        self.idleTimeout = idleTimeout
        self.pipeSize = pipeSize
    }

    /// Tunnels moved here so far, and those still open.
    var adoptedCount: Int { shared.withLock { $0.adopted } }
    var activeCount: Int { shared.withLock { $0.active } }

    /// Takes the tunnel over (its thread starts with the first). False when the relay is stopped
    /// or cannot start: the handover is then the caller's to discard.
    func adopt(_ handover: Handover) -> Bool {
        let wake: Int32? = shared.withLock { shared in
            guard !shared.stopping, startIfNeeded(&shared) else { return nil }
            shared.incoming.append(handover)
            shared.adopted += 1
            shared.active += 1
            return shared.wake
        }
        guard let wake else { return false }
        var one: UInt64 = 1
        _ = write(wake, &one, 8)
        return true
    }

    /// Ends every tunnel (each writes its log line) and the thread. Later handovers are refused.
    func stop() {
        let (thread, wake): (pthread_t?, Int32) = shared.withLock { shared in
            shared.stopping = true
            defer { shared.thread = nil }
            return (shared.thread, shared.wake)
        }
        guard let thread else { return }
        var one: UInt64 = 1
        _ = write(wake, &one, 8)
        pthread_join(thread, nil)
        shared.withLock { shared in
            close(shared.epoll)
            close(shared.wake)
            (shared.epoll, shared.wake) = (-1, -1)
        }
    }

    private func startIfNeeded(_ shared: inout Shared) -> Bool {
        if shared.thread != nil { return true }
        let epoll = ccordon_epoll_create()
        guard epoll >= 0 else { return false }
        let wake = ccordon_eventfd()
        guard wake >= 0, ccordon_epoll_add(epoll, wake, 0, 0) == 0 else {
            close(epoll)
            if wake >= 0 { close(wake) }
            return false
        }
        let box = Unmanaged.passRetained(self)
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { context in
            guard let context else { return nil }
            let relay = Unmanaged<SpliceRelay>.fromOpaque(context).takeRetainedValue()
            relay.serve()
            return nil
        }, box.toOpaque())
        guard rc == 0 else {
            box.release()
            close(epoll)
            close(wake)
            return false
        }
        (shared.thread, shared.epoll, shared.wake) = (thread, epoll, wake)
        return true
    }

    // MARK: The relay's thread

    private func serve() {
        let (epoll, wake) = shared.withLock { ($0.epoll, $0.wake) }
        var tunnels: [UInt64: SplicedTunnel] = [:]
        var again: Set<UInt64> = []
        var nextToken: UInt64 = 1
        var lastSweep = WallClock.monotonic()
        var tokens = [UInt64](repeating: 0, count: 64)
        let sweepEvery = max(0.05, min(1.0, idleTimeout / 4))

        func end(_ token: UInt64, _ tunnel: SplicedTunnel) {
            tunnels[token] = nil
            again.remove(token)
            tunnel.close(epoll: epoll)
            shared.withLock { $0.active -= 1 }
        }

        func run(_ token: UInt64) {
            guard let tunnel = tunnels[token] else { return }
            switch tunnel.pump() {
            case .waiting: again.remove(token)
            case .yielded: again.insert(token)
            case .finished: end(token, tunnel)
            }
        }

        while true {
            let timeout = again.isEmpty ? Int32(sweepEvery * 1000) : 0
            let count = tokens.withUnsafeMutableBufferPointer { ccordon_epoll_wait(epoll, $0.baseAddress, 64, timeout) }
            var stopping = false
            for index in 0..<max(0, Int(count)) {
                let token = tokens[index]
                guard token == 0 else {
                    run(token)
                    continue
                }
                var value: UInt64 = 0
                _ = read(wake, &value, 8)
                let (incoming, stop) = shared.withLock { shared in
                    defer { shared.incoming = [] }
                    return (shared.incoming, shared.stopping)
                }
                stopping = stop
                for handover in incoming {
                    let token = nextToken
                    nextToken += 1
                    let tunnel = SplicedTunnel(handover, now: WallClock.monotonic())
                    guard ccordon_epoll_add(epoll, handover.client, token, 1) == 0, ccordon_epoll_add(epoll, handover.upstream, token, 1) == 0 else {
                        tunnel.record?.failed("cannot watch the tunnel's sockets")
                        tunnel.close(epoll: epoll)
                        shared.withLock { $0.active -= 1 }
                        continue
                    }
                    tunnels[token] = tunnel
                    run(token)
                }
            }
            for token in again { run(token) }
            if stopping {
                for (token, tunnel) in tunnels { end(token, tunnel) }
                return
            }
            let now = WallClock.monotonic()
            if now - lastSweep >= sweepEvery {
                lastSweep = now
                for (token, tunnel) in tunnels where now - tunnel.lastActive >= idleTimeout { end(token, tunnel) }
            }
        }
    }
}

/// One tunnel on the relay's thread.
final class SplicedTunnel {
    enum Progress {
        /// Every direction waits for its socket (epoll will say when).
        case waiting
        /// Stopped after its share of work with more to do: run again before waiting.
        case yielded
        /// Both directions ended, or one failed.
        case finished
    }

    /// One direction: source socket → pipe → sink socket.
    struct Direction {
        let source: Int32
        let sink: Int32
        let pipe: (read: Int32, write: Int32)
        let capacity: Int
        var inPipe = 0
        var sourceEnded = false
        var sinkShut = false
        var done: Bool { sinkShut }
    }

    private var up: Direction
    private var down: Direction
    let record: FlowRecord?
    let client: Int32
    let upstream: Int32
    let pipes: SpliceRelay.Pipes
    private(set) var lastActive: Double

    init(_ handover: SpliceRelay.Handover, now: Double) {
        let pipes = handover.pipes
        up = Direction(source: handover.client, sink: handover.upstream, pipe: pipes.up, capacity: pipes.capacity)
        down = Direction(source: handover.upstream, sink: handover.client, pipe: pipes.down, capacity: pipes.capacity)
        record = handover.record
        client = handover.client
        upstream = handover.upstream
        self.pipes = pipes
        lastActive = now
    }

    /// Moves what it can both ways; at most `budget` bytes per direction before yielding, so
    /// one fast tunnel cannot starve the others.
    func pump(budget: Int = 4 << 20) -> Progress {
        var failed = false
        var yielded = false
        for upward in [true, false] {
            let outcome = upward ? Self.move(&up, budget: budget, count: { self.record?.countUp($0) }) : Self.move(&down, budget: budget, count: { self.record?.countDown($0) })
            switch outcome {
            case .moved(let more):
                lastActive = WallClock.monotonic()
                if more { yielded = true }
            case .idle: break
            case .failed: failed = true
            }
            if failed { break }
        }
        if failed || (up.done && down.done) { return .finished }
        return yielded ? .yielded : .waiting
    }

    enum Outcome {
        /// Bytes moved; `more` when the budget ran out before the direction had to wait.
        case moved(more: Bool)
        case idle
        case failed
    }

    static func move(_ d: inout Direction, budget: Int, count: (Int) -> Void) -> Outcome {
        var moved = 0
        while true {
            if moved >= budget { return .moved(more: true) }
            // The pipe, into the sink.
            while d.inPipe > 0 {
                let n = ccordon_relay_splice(d.pipe.read, d.sink, d.inPipe)
                if n > 0 {
                    d.inPipe -= n
                    moved += n
                    continue
                }
                if n == -Int(EINTR) { continue }
                if n == -Int(EAGAIN) { return moved > 0 ? .moved(more: false) : .idle }
                return .failed
            }
            // End of input: half-close the sink once everything before it is out.
            if d.sourceEnded {
                if !d.sinkShut {
                    d.sinkShut = true
                    shutdown(d.sink, Int32(SHUT_WR))
                    return .moved(more: false)
                }
                return moved > 0 ? .moved(more: false) : .idle
            }
            // The source, into the (empty) pipe.
            let n = ccordon_relay_splice(d.source, d.pipe.write, d.capacity)
            if n > 0 {
                d.inPipe = n
                count(n)
                continue
            }
            if n == 0 {
                d.sourceEnded = true
                continue
            }
            if n == -Int(EINTR) { continue }
            if n == -Int(EAGAIN) { return moved > 0 ? .moved(more: false) : .idle }
            return .failed
        }
    }

    /// Closes both sockets and pipes and writes the tunnel's log line.
    func close(epoll: Int32) {
        _ = ccordon_epoll_remove(epoll, client)
        _ = ccordon_epoll_remove(epoll, upstream)
        Glibc.close(client)
        Glibc.close(upstream)
        pipes.close()
        record?.finishHandedOver()
    }
}
