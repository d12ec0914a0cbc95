import CordonPolicy
import CordonCore
import CordonOS
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Relays established tunnels inside the kernel: bytes go socket → pipe → socket with splice(2)
/// and are never copied into this process. A tunnel starts in NIO (the CONNECT, the SNI gate,
/// the first bytes) and moves here once it carries bulk data (`TunnelMover`).
///
/// Each moved tunnel gets one thread per direction, on blocking sockets: a thread sleeps in the
/// kernel until its source has bytes or its sink has room, so it wakes once per burst rather
/// than once per segment or acknowledgement. (Measured on loopback: an epoll loop driving
/// non-blocking splices woke so often that it cost as much CPU per gigabyte as copying through
/// user space; the blocking threads about 0.4 of it.) A direction ends with a half-close of its
/// sink once everything before it is out; the tunnel ends when both have, on an error (the
/// other direction is woken by shutting both sockets down), after `idleTimeout` without a byte
/// moving either way (socket timeouts wake the threads to check), or at `stop`; its log line is
/// written then. At most `capacity` tunnels move; the rest stay in NIO.
final class SpliceRelay: Sendable {
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
            guard let up = Splice.pipe(size: size) else { return nil }
            guard let down = Splice.pipe(size: size) else {
                for fd in [up.read, up.write] { Glibc.close(fd) }
                return nil
            }
            return Pipes(up: (up.read, up.write), down: (down.read, down.write), capacity: up.capacity)
        }

        func close() {
            for fd in [up.read, up.write, down.read, down.write] { Glibc.close(fd) }
        }
    }

    private struct Shared {
        var tunnels: [UInt64: SplicedTunnel] = [:]
        var nextID: UInt64 = 1
        var stopping = false
        var adopted = 0
    }

    private let shared = Mutex(Shared())
    /// Bytes a tunnel carries one way in NIO before it moves here.
    let threshold: Int
    let idleTimeout: Double
    let pipeSize: Int
    /// Tunnels carried at once (two threads each).
    let capacity: Int

    /// `idleTimeout` in seconds; `pipeSize` per direction (fs.pipe-max-size caps it for
    /// unprivileged users; past fs.pipe-user-pages-soft the kernel's default stays).
    init(threshold: Int, idleTimeout: Double, pipeSize: Int = 1 << 20, capacity: Int = 128) {
        self.threshold = max(1, threshold)
        self.idleTimeout = idleTimeout
        self.pipeSize = pipeSize
        self.capacity = capacity
    }

    /// Tunnels moved here so far, and those still open.
    var adoptedCount: Int { shared.withLock { $0.adopted } }
    var activeCount: Int { shared.withLock { $0.tunnels.count } }
    /// Whether a tunnel may move now (not stopped, below `capacity`).
    var hasRoom: Bool { shared.withLock { !$0.stopping && $0.tunnels.count < capacity } }

    /// Takes the tunnel over and starts its threads. False when the relay is stopped or no
    /// thread could be made: the handover is then the caller's to discard.
    func adopt(_ handover: Handover) -> Bool {
        let tunnel: SplicedTunnel? = shared.withLock { shared in
            guard !shared.stopping else { return nil }
            let id = shared.nextID
            shared.nextID += 1
            let tunnel = SplicedTunnel(handover, id: id, idleTimeout: idleTimeout) { [weak self] id in
                self?.shared.withLock { _ = $0.tunnels.removeValue(forKey: id) }
            }
            shared.tunnels[id] = tunnel
            shared.adopted += 1
            return tunnel
        }
        guard let tunnel else { return false }
        guard tunnel.start() else {
            shared.withLock { _ = $0.tunnels.removeValue(forKey: tunnel.id) }
            return false
        }
        return true
    }

    /// Ends every tunnel and waits (up to 5 s) until each has closed and written its log line.
    /// Later handovers are refused.
    func stop() {
        let tunnels = shared.withLock { shared in
            shared.stopping = true
            return Array(shared.tunnels.values)
        }
        for tunnel in tunnels { tunnel.end() }
        for _ in 0..<5000 where activeCount > 0 { usleep(1000) }
    }
}

/// One tunnel: a thread per direction, blocking splices, a shared clock of the last byte moved.
final class SplicedTunnel: Sendable {
    let id: UInt64
    let record: FlowRecord?
    private let client: Int32
    private let upstream: Int32
    private let pipes: SpliceRelay.Pipes
    private let idleTimeout: Double
    private let lastActive: Atomic<Int>
    /// Directions still running; the last one to finish closes everything.
    private let running = Atomic<Int>(2)
    private let finished: @Sendable (UInt64) -> Void

    init(_ handover: SpliceRelay.Handover, id: UInt64, idleTimeout: Double, finished: @escaping @Sendable (UInt64) -> Void) {
        self.id = id
        self.record = handover.record
        self.client = handover.client
        self.upstream = handover.upstream
        self.pipes = handover.pipes
        self.idleTimeout = idleTimeout
        self.lastActive = Atomic(Self.nowMilliseconds())
        self.finished = finished
    }

    static func nowMilliseconds() -> Int { Int(WallClock.monotonic() * 1000) }

    /// Blocking sockets with timeouts (to look at the idle clock), then a detached thread per
    /// direction.
    func start() -> Bool {
        let wake = max(0.05, min(1.0, idleTimeout / 4))
        var timeout = timeval(tv_sec: Int(wake), tv_usec: Int((wake - Double(Int(wake))) * 1_000_000))
        for fd in [client, upstream] {
            let flags = fcntl(fd, F_GETFL)
            guard flags >= 0, fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0,
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size)) == 0,
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size)) == 0
            else { return false }
        }
        let directions = [
            Direction(source: client, sink: upstream, pipe: pipes.up, capacity: pipes.capacity, upward: true),
            Direction(source: upstream, sink: client, pipe: pipes.down, capacity: pipes.capacity, upward: false),
        ]
        var started = 0
        for direction in directions {
            let job = Unmanaged.passRetained(Job(tunnel: self, direction: direction))
            var attributes = pthread_attr_t()
            pthread_attr_init(&attributes)
            pthread_attr_setstacksize(&attributes, 256 * 1024)
            var thread = pthread_t()
            let rc = pthread_create(
                &thread, &attributes,
                { context in
                    guard let context else { return nil }
                    let job = Unmanaged<Job>.fromOpaque(context).takeRetainedValue()
                    job.tunnel.run(job.direction)
                    return nil
                }, job.toOpaque())
            pthread_attr_destroy(&attributes)
            guard rc == 0 else {
                job.release()
                // The direction that could not start counts as finished; end the other.
                if started == 0 { return false }
                end()
                directionFinished()
                break
            }
            pthread_detach(thread)
            started += 1
        }
        return true
    }

    private final class Job {
        let tunnel: SplicedTunnel
        let direction: Direction
        init(tunnel: SplicedTunnel, direction: Direction) {
            self.tunnel = tunnel
            self.direction = direction
        }
    }

    struct Direction: Sendable {
        let source: Int32
        let sink: Int32
        let pipe: (read: Int32, write: Int32)
        let capacity: Int
        let upward: Bool
    }

    private var idle: Bool { Self.nowMilliseconds() - lastActive.load(ordering: .relaxed) >= Int(idleTimeout * 1000) }

    private func moved() { lastActive.store(Self.nowMilliseconds(), ordering: .relaxed) }

    /// One direction until its source ends (then a half-close of its sink), an error, or idleness.
    private func run(_ d: Direction) {
        defer { directionFinished() }
        while true {
            let n = Splice.move(from: d.source, to: d.pipe.write, length: d.capacity)
            if n == 0 {
                shutdown(d.sink, Int32(SHUT_WR))
                return
            }
            if n < 0 {
                if n == -Int(EINTR) { continue }
                if n == -Int(EAGAIN), !idle { continue }
                return end()  // an error, or no byte either way for the idle timeout
            }
            if d.upward { record?.countUp(n) } else { record?.countDown(n) }
            moved()
            var left = n
            while left > 0 {
                let m = Splice.move(from: d.pipe.read, to: d.sink, length: left)
                if m > 0 {
                    left -= m
                    moved()
                } else if m == -Int(EINTR) || (m == -Int(EAGAIN) && !idle) {
                    continue
                } else {
                    return end()
                }
            }
        }
    }

    /// Wakes both directions for good: their sockets are shut down both ways.
    func end() {
        shutdown(client, Int32(SHUT_RDWR))
        shutdown(upstream, Int32(SHUT_RDWR))
    }

    private func directionFinished() {
        guard running.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 else { return }
        Glibc.close(client)
        Glibc.close(upstream)
        pipes.close()
        record?.finishHandedOver()
        finished(id)
    }

}
