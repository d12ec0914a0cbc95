import CordonPolicy
public import CordonCore
import Synchronization
import NIOCore
import NIOPosix

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
