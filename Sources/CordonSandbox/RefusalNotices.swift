import CordonCore
import CordonNet
import CordonPolicy
import Synchronization

/// The live line on the terminal of `cordon run` when the sandbox is refused a host it was not
/// refused before in this run: what was refused, why, and what allows it. An agent retrying in a
/// loop, or naming thousands of hosts, must not flood the terminal: one line per host, at most
/// `perSecond` lines a second (the ones held back are counted and said with the next line), and
/// no line once `maxHosts` hosts were shown (the network log has them all). Hosts are agent
/// input: shown through `Decision.shownHost` and escaped.
final class RefusalNotices: Sendable {
    static let perSecond = 3
    static let maxHosts = 200

    private struct State {
        var shown: Set<String> = []
        var windowStart = -Double.infinity
        var inWindow = 0
        var heldBack = 0
    }

    private let sandbox: String
    /// The terminal is in raw mode: each line needs its carriage return.
    private let raw: Bool
    private let warn: @Sendable (String) -> Void
    private let clock: @Sendable () -> Double
    private let state = Mutex(State())

    init(sandbox: String, raw: Bool, warn: @escaping @Sendable (String) -> Void, clock: @escaping @Sendable () -> Double = { WallClock.monotonic() }) {
        self.sandbox = sandbox
        self.raw = raw
        self.warn = warn
        self.clock = clock
    }

    /// Says the refusals `log` records from now on.
    func watch(_ log: NetworkLog) {
        log.observe { [self] entry in note(entry) }
    }

    func note(_ entry: NetworkLogEntry) {
        guard entry.decision == "deny" else { return }
        refused(method: entry.method, host: entry.host, port: entry.port, rule: entry.rule, reason: entry.reason)
    }

    /// A refusal the network log recorded.
    func refused(method: String, host: String, port: Int, rule: String, reason: String) {
        // The user's own "deny" needs no reminder; a UDP datagram is not a host.
        guard method != "udp", rule != "approval:deny" else { return }
        let decision = Decision(verdict: .deny, host: host, port: port, rule: rule, reason: reason)
        let atLimit = rule == "connection-limit"
        let key = atLimit ? "(connection limit)" : decision.shownHost
        let now = clock()
        let heldBack: Int? = state.withLock { state in
            guard !state.shown.contains(key), state.shown.count < Self.maxHosts else { return nil }
            if now - state.windowStart >= 1 {
                state.windowStart = now
                state.inWindow = 0
            }
            guard state.inWindow < Self.perSecond else {
                state.heldBack += 1
                return nil
            }
            state.inWindow += 1
            state.shown.insert(key)
            defer { state.heldBack = 0 }
            return state.heldBack
        }
        guard let heldBack else { return }
        let what = atLimit ? "a connection" : method == "dns" ? "the name \(key)" : "\(key):\(port)"
        // The reason can quote what the agent sent (an invalid name): bounded and escaped.
        let said = String(String.UnicodeScalarView(reason.unicodeScalars.prefix(300)))
        // A secret's placeholder on its way out is an exfiltration attempt, not a missing rule.
        let alert = rule == "placeholder" ? "ALERT: " : ""
        var text = "cordon: \(alert)\(sandbox) was refused \(what): \(TerminalText.escaped(said))"
        if let fix = decision.fix(sandbox: sandbox) { text += "; to allow: \(TerminalText.escaped(fix))" }
        if heldBack > 0 { text += " (and \(heldBack) refusals of other hosts not shown: cordon net log \(sandbox))" }
        warn(raw ? text + "\r\n" : text)
    }
}
