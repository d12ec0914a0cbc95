import CordonCore
import CordonOS
import Glibc

/// Runs attacks one after another in one environment: each attack's control, then the attack,
/// judged into an outcome; a progress line per attack on stderr unless told otherwise. Stops
/// early (what ran is reported) when the environment's interrupt pipe turns readable.
public struct SelftestRunner {
    public var progress: Bool

    public init(progress: Bool) { self.progress = progress }

    public func run(_ attacks: [Attack], in environment: SelftestEnvironment) -> [AttackOutcome] {
        var outcomes: [AttackOutcome] = []
        for (index, attack) in attacks.enumerated() {
            if Self.interrupted(environment.interrupt) { break }
            let control = Result<Observation, SelftestFailure> { () throws(SelftestFailure) in try attack.runControl(environment) }
            let attackRun = Result<Observation, SelftestFailure> { () throws(SelftestFailure) in try attack.runAttack(environment) }
            // An attack cut short by the interruption proves nothing either way: left out.
            if Self.interrupted(environment.interrupt) { break }
            let outcome = AttackOutcome.judge(attack, control: control, attackRun: attackRun, runByRoot: getuid() == 0)
            outcomes.append(outcome)
            if progress {
                Self.say("[\(index + 1)/\(attacks.count)] \(outcome.verdict.rawValue) \(attack.id)")
            }
        }
        return outcomes
    }

    /// Whether the interrupt pipe has a signal waiting (not consumed).
    static func interrupted(_ fd: Int32) -> Bool {
        guard fd >= 0 else { return false }
        var probe = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&probe, 1, 0) > 0
    }

    /// One line on stderr, escaped for the terminal.
    static func say(_ text: String) {
        let bytes = Array((TerminalText.escaped(text) + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}
