import CordonPolicy
import CordonCore
import Synchronization

/// The log line of one proxied connection, filled in as the flow progresses and written once at
/// close. Counters are touched from the flow's event loop; the lock keeps it simple and safe.
final class FlowRecord: Sendable {
    private struct State {
        var method = "tcp"
        var host = ""
        var port = 0
        var address: String?
        var decision: Decision?
        var failure: String?
        var up = 0
        var down = 0
        var written = false
        /// Moved to the splice relay: the NIO side's closing is not the flow's end.
        var handedOver = false
    }

    let client: String
    private let log: NetworkLog
    private let started = WallClock.monotonic()
    private let state = Mutex(State())

    init(client: String, log: NetworkLog) {
        self.client = client
        self.log = log
    }

    func target(method: String, host: String, port: Int) {
        state.withLock {
            $0.method = method
            $0.host = host
            $0.port = port
        }
    }

    func decided(_ decision: Decision) { state.withLock { $0.decision = decision } }
    func connected(to address: String) { state.withLock { $0.address = address } }
    /// A flow the policy allowed but that failed (dial error, SNI mismatch is a decision instead).
    func failed(_ reason: String) { state.withLock { $0.failure = reason } }
    func countUp(_ n: Int) { state.withLock { $0.up += n } }
    func countDown(_ n: Int) { state.withLock { $0.down += n } }

    var host: String { state.withLock { $0.host } }
    var port: Int { state.withLock { $0.port } }
    var method: String { state.withLock { $0.method } }
    var bytesUp: Int { state.withLock { $0.up } }
    var bytesDown: Int { state.withLock { $0.down } }

    /// The flow goes on in the splice relay: `finish` (called when NIO's channels close) waits
    /// for `finishHandedOver`.
    func handOver() { state.withLock { $0.handedOver = true } }

    /// The end of a flow the splice relay carried.
    func finishHandedOver() {
        state.withLock { $0.handedOver = false }
        finish()
    }

    /// Writes the line, once. Flows closed before any request are not logged.
    func finish() {
        let entry: NetworkLogEntry? = state.withLock { state in
            guard !state.written, !state.handedOver else { return nil }
            state.written = true
            guard state.decision != nil || state.failure != nil else { return nil }
            let decision = state.decision
            var verdict = decision.map { $0.verdict == .allow ? "allow" : "deny" } ?? "error"
            var reason = decision?.reason ?? ""
            if let failure = state.failure, verdict == "allow" || decision == nil {
                verdict = "error"
                reason = failure
            }
            return NetworkLogEntry(
                client: client, method: state.method, host: decision?.host ?? state.host, port: state.port,
                resolvedAddress: state.address, decision: verdict, rule: decision?.rule ?? "protocol", reason: reason,
                bytesUp: state.up, bytesDown: state.down,
                durationMilliseconds: Int((WallClock.monotonic() - started) * 1000))
        }
        if let entry { log.record(entry) }
    }
}
