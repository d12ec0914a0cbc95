import CordonAudit
import Testing

struct AuditTimeTests {
    @Test(arguments: [
        ("1970-01-01T00:00:00Z", 0),
        ("1970-01-01T00:00:01.5Z", 1500),
        ("2026-12-06T15:46:32.123Z", 1_796_571_992_123),
        ("2026-12-06T16:46:32.123+01:00", 1_796_571_992_123),
        ("2026-12-06T14:46:32.123-01:00", 1_796_571_992_123),
    ])
    func rfc3339(text: String, millis: Int) {
        #expect(AuditTime.milliseconds(rfc3339: text) == millis)
    }

    @Test(arguments: ["", "2026-12-06", "2026-13-06T00:00:00Z", "2026-12-06T00:00:00", "2026-12-06T00:00:00Zjunk", "2026-12-06T00:00:00.Z"])
    func notRFC3339(text: String) {
        #expect(AuditTime.milliseconds(rfc3339: text) == nil)
    }

    @Test func durationsCountBackFromNow() {
        #expect(AuditTime.since("10m", now: 1_000_000) == 400_000)
        #expect(AuditTime.since("2h", now: 10_000_000) == 2_800_000)
        #expect(AuditTime.since("1d", now: 86_400_000) == 0)
        #expect(AuditTime.since("90s", now: 90_000) == 0)
        #expect(AuditTime.since("10x") == nil)
        #expect(AuditTime.since("-5m") == nil)
    }
}
