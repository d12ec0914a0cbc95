import CordonPolicy
public import CordonCore
import Synchronization
import NIOCore
import NIOPosix

/// One line of the network log: a decision about one connection or DNS query, with its traffic.
public struct NetworkLogEntry: Sendable, Equatable {
    public var time: String
    public var client: String
    /// `CONNECT`, `GET`, …, `socks5`, `tls`, `http`, `tcp`, `dns`.
    public var method: String
    public var host: String
    public var port: Int
    public var resolvedAddress: String?
    /// `allow`, `deny`, or `error` (allowed but the dial or the flow failed).
    public var decision: String
    public var rule: String
    public var reason: String
    public var bytesUp: Int
    public var bytesDown: Int
    public var durationMilliseconds: Int

    public init(
        time: String = WallClock.rfc3339(), client: String, method: String, host: String, port: Int,
        resolvedAddress: String? = nil, decision: String, rule: String, reason: String, bytesUp: Int = 0, bytesDown: Int = 0,
        durationMilliseconds: Int = 0
    ) {
        self.time = time
        self.client = client
        self.method = method
        self.host = host
        self.port = port
        self.resolvedAddress = resolvedAddress
        self.decision = decision
        self.rule = rule
        self.reason = reason
        self.bytesUp = bytesUp
        self.bytesDown = bytesDown
        self.durationMilliseconds = durationMilliseconds
    }
}

/// Counts for the one summary line printed when a run ends.
public struct NetworkSummary: Sendable, Equatable, CustomStringConvertible {
    public var allowed = 0
    public var refused = 0
    public var errors = 0
    public var approvalsAsked = 0
    /// DNS queries answered and refused (not counted as connections).
    public var dnsAnswered = 0
    public var dnsRefused = 0
    /// Refusals per host (connections and DNS queries).
    public var refusedHosts: [String: Int] = [:]
    /// Connections closed at accept because `egress.max_connections` were open (also in `refused`;
    /// the log has a line for the first of each burst, not for each).
    public var overConnectionLimit = 0
    /// DNS queries refused by the wildcard bound (`egress.dns_*`; also in `dnsRefused`).
    public var dnsOverWildcardBound = 0

    public init() {}

    /// The most refused hosts, most first (ties by name).
    public func topRefused(_ count: Int = 5) -> [(host: String, count: Int)] {
        refusedHosts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(count).map { ($0.key, $0.value) }
    }

    public var description: String {
        var text = "network: \(allowed) connection\(allowed == 1 ? "" : "s") allowed, \(refused) refused"
        if dnsRefused > 0 { text += ", \(dnsRefused) DNS quer\(dnsRefused == 1 ? "y" : "ies") refused" }
        let top = topRefused(3)
        if !top.isEmpty { text += " (top: " + top.map { "\($0.host) ×\($0.count)" }.joined(separator: ", ") + ")" }
        if overConnectionLimit > 0 { text += ", \(overConnectionLimit) over the connection limit" }
        if dnsOverWildcardBound > 0 { text += ", \(dnsOverWildcardBound) DNS names over the wildcard bound" }
        if errors > 0 { text += ", \(errors) failed" }
        text += ", \(approvalsAsked) approvals asked"
        return text
    }
}

/// Writes the network log (JSON lines) and keeps the summary. Safe from any thread.
public final class NetworkLog: Sendable {
    public let sandbox: String
    private let writer: JSONLinesWriter?
    private let state = Mutex<(summary: NetworkSummary, observers: [@Sendable (NetworkLogEntry) -> Void])>((NetworkSummary(), []))

    /// `path` nil keeps only the summary (and observers), for tests and `network: none`.
    public init(sandbox: String, path: String?) throws(CordonError) {
        self.sandbox = sandbox
        self.writer = try path.map { (path: String) throws(CordonError) in try JSONLinesWriter(path: path) }
    }

    public var summary: NetworkSummary { state.withLock { $0.summary } }

    /// Called with every entry after it is written (the terminal UI, tests).
    public func observe(_ observer: @escaping @Sendable (NetworkLogEntry) -> Void) {
        state.withLock { $0.observers.append(observer) }
    }

    func countApproval() { state.withLock { $0.summary.approvalsAsked += 1 } }

    /// Lines about refusals at the connection limit.
    private let limitLines = Mutex(LineThrottle())

    /// A connection closed at accept because `limit` were open: counted every time; a line is
    /// written at most once a second, naming how many were refused since the previous one (an
    /// agent opening connections in a loop must not turn the log into the flood).
    func refusedAtConnectionLimit(client: String, limit: Int, now: Double = WallClock.monotonic()) {
        let more = limitLines.withLock { $0.admit(now: now) }
        state.withLock {
            $0.summary.overConnectionLimit += 1
            if more == nil {
                $0.summary.refused += 1
                $0.summary.refusedHosts["(connection limit)", default: 0] += 1
            }
        }
        guard let more else { return }
        var reason = "\(limit) connections already open (egress.max_connections); closed at accept"
        if more > 0 { reason += "; \(more) more refused since the previous line" }
        record(NetworkLogEntry(client: client, method: "tcp", host: "(connection limit)", port: 0, decision: "deny", rule: "connection-limit", reason: reason))
    }

    /// Lines recorded on an event loop wait here until the end of that loop's turn, then go out
    /// with one write for all of them (a busy proxy finishes several requests per turn; a write per
    /// line was a visible share of its cost). The wait is microseconds: nothing else runs first.
    private let pending = Mutex<(lines: String, flushScheduled: Bool, batching: Bool)>(("", false, true))

    public func record(_ entry: NetworkLogEntry) {
        if let writer { append(line(entry), to: writer) }
        let observers = state.withLock { state in
            switch (entry.method, entry.decision) {
            case ("udp", _): break
            case ("dns", "deny"):
                state.summary.dnsRefused += 1
                if entry.rule.hasPrefix("dns-bound:") { state.summary.dnsOverWildcardBound += 1 }
                state.summary.refusedHosts[entry.host, default: 0] += 1
            case ("dns", _): state.summary.dnsAnswered += 1
            case (_, "allow"): state.summary.allowed += 1
            case (_, "deny"):
                state.summary.refused += 1
                state.summary.refusedHosts[entry.host, default: 0] += 1
            default: state.summary.errors += 1
            }
            return state.observers
        }
        for observer in observers { observer(entry) }
    }

    private func append(_ line: String, to writer: JSONLinesWriter) {
        let loop = MultiThreadedEventLoopGroup.currentEventLoop
        let schedule = pending.withLock { pending in
            guard loop != nil, pending.batching else {
                writer.write(lines: pending.lines + line)
                pending.lines = ""
                return false
            }
            pending.lines += line
            defer { pending.flushScheduled = true }
            return !pending.flushScheduled
        }
        if schedule, let loop { loop.execute { self.flush() } }
    }

    /// Writes the lines still waiting (the end of a loop's turn).
    public func flush() {
        guard let writer else { return }
        // Written under the lock, so lines from two loops reach the file in the order recorded.
        pending.withLock { pending in
            if !pending.lines.isEmpty { writer.write(lines: pending.lines) }
            pending.lines = ""
            pending.flushScheduled = false
        }
    }

    /// The proxy stops: what waits is written, and from now on every line at once (flows that
    /// end while the process exits must not wait for a loop's turn that may never come).
    public func stopBatching() {
        pending.withLock { $0.batching = false }
        flush()
    }

    deinit { flush() }

    /// The entry as a JSON line, written field by field (no `JSONValue` tree: a line per request,
    /// and building the tree cost more than the write).
    func line(_ entry: NetworkLogEntry) -> String {
        var out = ""
        out.reserveCapacity(320)
        func field(_ key: String, _ value: String?) {
            out += key
            if let value { JSONValue.quote(value, into: &out) } else { out += "null" }
        }
        func field(_ key: String, _ value: Int) {
            out += key
            out += String(value)
        }
        field("{\"time\":", entry.time)
        field(",\"sandbox\":", sandbox)
        field(",\"client\":", entry.client)
        field(",\"method\":", entry.method)
        field(",\"host\":", entry.host)
        field(",\"port\":", entry.port)
        field(",\"address\":", entry.resolvedAddress)
        field(",\"decision\":", entry.decision)
        field(",\"rule\":", entry.rule)
        field(",\"reason\":", entry.reason)
        field(",\"bytes_up\":", entry.bytesUp)
        field(",\"bytes_down\":", entry.bytesDown)
        field(",\"duration_ms\":", entry.durationMilliseconds)
        out += "}\n"
        return out
    }
}

/// Lets a line about a refusal that can repeat at line rate through at most once a second, and
/// counts the ones held back, so the next line can say how many there were.
struct LineThrottle {
    private var last: Double?
    private var held = 0

    /// nil: hold this one back; otherwise write it, saying how many were held back before it.
    mutating func admit(now: Double) -> Int? {
        if let last, now - last < 1 {
            held += 1
            return nil
        }
        defer { (last, held) = (now, 0) }
        return held
    }
}

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
