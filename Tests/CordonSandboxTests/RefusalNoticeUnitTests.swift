import Synchronization
import Testing

@testable import CordonSandbox

/// The live refusal lines' limits, on a clock the test moves.
struct RefusalNoticeUnitTests {
    final class Lines: Sendable {
        let said = Mutex<[String]>([])
        var all: [String] { said.withLock { $0 } }
    }

    final class Clock: Sendable {
        let now = Mutex<Double>(100)
        func advance(_ seconds: Double) { now.withLock { $0 += seconds } }
    }

    static func notices(_ lines: Lines, _ clock: Clock, raw: Bool = false) -> RefusalNotices {
        RefusalNotices(sandbox: "box", raw: raw, warn: { line in lines.said.withLock { $0.append(line) } }, clock: { clock.now.withLock { $0 } })
    }

    @Test func oneLinePerHostAndAFewPerSecond() {
        let lines = Lines()
        let clock = Clock()
        let notices = Self.notices(lines, clock)
        for _ in 0..<50 { notices.refused(method: "CONNECT", host: "a.test", port: 443, rule: "not-listed", reason: "a.test is not in egress.domains") }
        #expect(
            lines.all == [
                "cordon: box was refused a.test:443: a.test is not in egress.domains; to allow: cordon allow box a.test (this run; add --always to keep it, or list it in egress.domains)"
            ])
        // Ten new hosts in the same instant: two more lines this second (three in all), the rest held.
        for i in 0..<10 { notices.refused(method: "CONNECT", host: "h\(i).test", port: 443, rule: "not-listed", reason: "h\(i).test is not in egress.domains") }
        #expect(lines.all.count == 3)
        clock.advance(1.5)
        notices.refused(method: "dns", host: "h9.test", port: 0, rule: "not-listed", reason: "h9.test is not in egress.domains")
        #expect(lines.all.count == 4)
        #expect(lines.all.last?.hasPrefix("cordon: box was refused the name h9.test: ") == true, "\(lines.all)")
        #expect(lines.all.last?.hasSuffix("(and 8 refusals of other hosts not shown: cordon net log box)") == true, "\(lines.all)")
        // The user's own deny and UDP datagrams are not said.
        notices.refused(method: "CONNECT", host: "denied.test", port: 443, rule: "approval:deny", reason: "refused by the user")
        notices.refused(method: "udp", host: "9.9.9.9", port: 123, rule: "udp", reason: "UDP is dropped")
        #expect(lines.all.count == 4)
    }

    @Test func manyHostsStopAtTheBound() {
        let lines = Lines()
        let clock = Clock()
        let notices = Self.notices(lines, clock)
        for i in 0..<(RefusalNotices.maxHosts * 3) {
            clock.advance(1)
            notices.refused(method: "CONNECT", host: "n\(i).test", port: 443, rule: "not-listed", reason: "unlisted")
        }
        #expect(lines.all.count == RefusalNotices.maxHosts)
    }

    /// The agent picks the host and, for an invalid one, what the reason quotes.
    @Test func hostileTextIsEscapedAndBounded() {
        let lines = Lines()
        let notices = Self.notices(lines, Clock(), raw: true)
        let host = "x\u{1B}]0;owned\u{07}\u{202E}" + String(repeating: "y", count: 4000)
        notices.refused(method: "CONNECT", host: host, port: 443, rule: "invalid-host", reason: "not a valid host name or address: \(host)")
        let line = lines.all.first ?? ""
        #expect(!line.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || $0.value == 0x202E }, "\(line.debugDescription)")
        #expect(line.count < 800)
        #expect(line.hasSuffix("\r\n"), "a raw terminal needs its carriage return")
    }
}
