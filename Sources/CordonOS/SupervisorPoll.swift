import CCordon
public import CordonCore
import Glibc

/// What the sandbox's pty writes passes through this on its way to the user's terminal.
public protocol PtyOutputFilter: AnyObject {
    /// Appends to `output` what may reach the terminal of `chunk`: at most `chunk.count` +
    /// `SupervisorPoll.filterSlack` bytes (more is dropped).
    func filter(_ chunk: UnsafeBufferPointer<UInt8>, into output: inout [UInt8])
}

/// The supervisor's wait: one poll over the sandbox's init (its pidfd), the caught signals, the
/// pty relay and the caller's own descriptors. Signals are forwarded to init (SIGWINCH resizes
/// the pty) and the pty relayed inside the wait; it returns only for what the caller acts on.
public struct SupervisorPoll {
    /// Why `wait` returned.
    public enum Event: Sendable, Equatable {
        /// The process behind the pidfd exited (what it left in the pty was relayed first).
        case exited
        /// `tick` is readable.
        case tick
        /// One of the `wake` descriptors is readable or failed (still so on the next call).
        case wake
    }

    /// The pty relay: `input` → `master` (none when nil), `master` → `output` through the filter
    /// (nil: read and dropped); `sizeSource` is the terminal whose window size it follows.
    public struct Relay: Sendable, Equatable {
        public var master: Int32
        public var input: Int32?
        public var output: Int32?
        public var sizeSource: Int32?

        public init(master: Int32, input: Int32?, output: Int32?, sizeSource: Int32?) {
            self.master = master
            self.input = input
            self.output = output
            self.sizeSource = sizeSource
        }
    }

    /// The most `wake` descriptors one wait takes.
    public static let maxWake = 8
    /// How much a filter may add to a chunk.
    public static let filterSlack = Int(CCORDON_RELAY_FILTER_SLACK)

    public let pidfd: Int32
    public let signals: Int32?
    public let relay: Relay?
    public let tick: Int32?
    private let filter: FilterBox?

    public init(pidfd: Int32, signals: Int32?, relay: Relay?, filter: (any PtyOutputFilter)?, tick: Int32?) {
        self.pidfd = pidfd
        self.signals = signals
        self.relay = relay
        self.tick = tick
        self.filter = filter.map(FilterBox.init)
    }

    /// Waits (relaying meanwhile) until init exits, `tick` or one of `wake` is readable.
    public func wait(wake: [Int32] = []) throws(CordonError) -> Event {
        guard wake.count <= Self.maxWake else {
            throw CordonError(.internal, "the supervisor's wait takes at most \(Self.maxWake) wake descriptors, not \(wake.count)")
        }
        let context = filter.map { Unmanaged.passUnretained($0).toOpaque() }
        let rc = withExtendedLifetime(filter) {
            wake.withUnsafeBufferPointer { wake in
                ccordon_supervise(
                    pidfd, signals ?? -1, relay?.master ?? -1, relay?.input ?? -1, relay?.output ?? -1, relay?.sizeSource ?? -1,
                    filter != nil ? FilterBox.callback : nil, context, tick ?? -1, wake.baseAddress, Int32(wake.count))
            }
        }
        switch rc {
        case 0: return .exited
        case 1: return .tick
        case 2: return .wake
        default: throw CordonError(.systemCall, "supervising the sandbox failed", cause: String(cString: strerror(-rc)))
        }
    }

    /// The filter and its reused output buffer, handed to the C loop as its context.
    private final class FilterBox {
        let filter: any PtyOutputFilter
        var output: [UInt8] = []

        init(_ filter: any PtyOutputFilter) { self.filter = filter }

        static let callback: ccordon_relay_filter = { context, input, length, output, capacity in
            guard let context, let input, let output else { return 0 }
            let box = Unmanaged<FilterBox>.fromOpaque(context).takeUnretainedValue()
            box.output.removeAll(keepingCapacity: true)
            box.filter.filter(UnsafeBufferPointer(start: input, count: length), into: &box.output)
            // At most `length` + filterSlack by the filter's contract; anything beyond is dropped.
            let n = min(box.output.count, capacity)
            box.output.withUnsafeBufferPointer { done in
                if let base = done.baseAddress, n > 0 { output.update(from: base, count: n) }
            }
            return n
        }
    }
}
