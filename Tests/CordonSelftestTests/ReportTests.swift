import CordonCore
import CordonSelftest
import Foundation
import Testing

/// The report: what an attack's run brought back is hostile, so the table escapes it; the JSON
/// has the documented shape.
@Suite struct ReportTests {
    static func outcome(_ id: String, verdict: Verdict, evidence: String, control: Observation? = .succeeded("ok")) -> AttackOutcome {
        let attack = Attack(
            id: id, category: .leaks, description: "d \u{1B}[31m", defence: "def", control: "c",
            runControl: { (_) throws(SelftestFailure) in .succeeded("") }, runAttack: { (_) throws(SelftestFailure) in .failed("") })
        return AttackOutcome(attack: attack, control: control, verdict: verdict, evidence: evidence)
    }

    @Test func escapeSequencesInCellsAreShownEscaped() {
        let hostile = "read \u{1B}]0;pwned\u{07} and \u{1B}[2J\rcleared"
        let report = SelftestReport([Self.outcome("leak.\u{1B}[31mred", verdict: .open, evidence: hostile)])
        let text = report.text
        #expect(!text.contains("\u{1B}"))
        #expect(!text.contains("\u{07}"))
        #expect(!text.contains("\r"))
        #expect(text.contains("OPEN"))
        #expect(text.contains(TerminalText.escaped(hostile)))
    }

    @Test func jsonHasTheDocumentedShape() throws {
        let report = SelftestReport([
            Self.outcome("fs.a", verdict: .held, evidence: "unchanged"),
            Self.outcome("fs.b", verdict: .open, evidence: "changed \u{1B}[1m"),
            Self.outcome("fs.c", verdict: .invalid, evidence: "control did not succeed", control: .failed("no")),
        ])
        let data = Data(report.json.encoded().utf8)
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(document["version"] as? Int == 1)
        let summary = try #require(document["summary"] as? [String: Int])
        #expect(summary == ["total": 3, "held": 1, "open": 1, "invalid": 1, "not_applicable": 0, "needs_root": 0])
        let attacks = try #require(document["attacks"] as? [[String: String]])
        #expect(attacks.count == 3)
        #expect(Set(attacks[0].keys) == ["id", "category", "description", "defence", "control", "control_result", "result", "evidence"])
        #expect(attacks.map { $0["result"] } == ["held", "OPEN", "invalid"])
        #expect(attacks.map { $0["control_result"] } == ["succeeded", "succeeded", "failed"])
        #expect(attacks[1]["evidence"] == "changed \u{1B}[1m")
        #expect(attacks[0]["category"] == "leaks")
        #expect(report.exitStatus == 1)
    }

    /// A kernel without the facility (the control, root on the host, got ENOSYS) makes the attack
    /// not applicable, which fails no run; an attack seen to succeed is OPEN all the same.
    @Test func aFacilityTheKernelLacksIsNotApplicableButABreachStaysOpen() {
        let attack = Self.outcome("proc.x", verdict: .held, evidence: "").attack
        let absent: Result<Observation, SelftestFailure> = .success(.absent("host root: every call got ENOSYS"))
        let refused = AttackOutcome.judge(attack, control: absent, attackRun: .success(.failed("sandbox: EPERM")))
        #expect(refused.verdict == .notApplicable)
        #expect(refused.evidence.contains("ENOSYS"))
        let breached = AttackOutcome.judge(attack, control: absent, attackRun: .success(.succeeded("sandbox: ENOEXEC")))
        #expect(breached.verdict == .open)
        let report = SelftestReport([refused, Self.outcome("fs.a", verdict: .held, evidence: "unchanged")])
        #expect(report.exitStatus == 0)
        #expect(report.summaryLine.hasPrefix("2 attacks: 1 held, 0 OPEN, 0 invalid, 1 not applicable"))
        #expect(report.text.contains("n/a proc.x: not applicable here"))
        #expect(refused.controlResult == "absent")
        // A control that merely failed is still invalid.
        let broken = AttackOutcome.judge(attack, control: .success(.failed("no target")), attackRun: .success(.failed("")))
        #expect(broken.verdict == .invalid)
    }

    /// Run by an ordinary user, an attack whose control needs root is `needs root` when the
    /// control fails or cannot run, which fails no run; an attack seen to succeed is OPEN all the
    /// same; run by root (or for an attack whose control needs no root) a failed control is invalid.
    @Test func aControlThatNeedsRootIsSaidSoForAnOrdinaryUser() {
        let attack = Attack(
            id: "proc.y", category: .process, description: "d", defence: "def", control: "c", controlNeedsRoot: "writes a host sysctl",
            runControl: { (_) throws(SelftestFailure) in .succeeded("") }, runAttack: { (_) throws(SelftestFailure) in .failed("") })
        let denied: Result<Observation, SelftestFailure> = .success(.failed("host write: Permission denied"))
        let refused = AttackOutcome.judge(attack, control: denied, attackRun: .success(.failed("sandbox: unchanged")), runByRoot: false)
        #expect(refused.verdict == .needsRoot)
        #expect(refused.controlResult == "needs root")
        #expect(refused.evidence.contains("writes a host sysctl") && refused.evidence.contains("Permission denied"))
        let noFixture = AttackOutcome.judge(
            attack, control: .failure(SelftestFailure("losetup: permission denied")), attackRun: .failure(SelftestFailure("losetup: permission denied")),
            runByRoot: false)
        #expect(noFixture.verdict == .needsRoot)
        let breached = AttackOutcome.judge(attack, control: denied, attackRun: .success(.succeeded("sandbox: changed")), runByRoot: false)
        #expect(breached.verdict == .open)
        let asRoot = AttackOutcome.judge(attack, control: denied, attackRun: .success(.failed("sandbox: unchanged")), runByRoot: true)
        #expect(asRoot.verdict == .invalid)
        let plain = Self.outcome("fs.z", verdict: .held, evidence: "").attack
        #expect(AttackOutcome.judge(plain, control: denied, attackRun: .success(.failed("")), runByRoot: false).verdict == .invalid)
        let report = SelftestReport([refused, Self.outcome("fs.a", verdict: .held, evidence: "unchanged")])
        #expect(report.exitStatus == 0)
        #expect(report.summaryLine == "2 attacks: 1 held, 0 OPEN, 0 invalid, 1 need root (their controls do; run as root to prove them)")
        #expect(report.text.contains("needs root proc.y: run by an ordinary user: the control writes a host sysctl"))
    }

    @Test func listTextHasALinePerField() {
        let attacks = AttackCatalogue.all
        let lines = SelftestReport.listText(attacks).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == attacks.count * 4 + 1)
        #expect(!lines.contains { $0.contains("\\x0A") })
        #expect(lines.first?.hasPrefix(attacks[0].id + "  [") == true)
    }

    @Test func listNamesEveryAttackWithItsDefenceAndControl() throws {
        let attacks = AttackCatalogue.all
        #expect(Set(attacks.map(\.id)).count == attacks.count, "attack ids must be unique")
        #expect(attacks.filter { $0.category == .filesystem }.count >= 10)
        #expect(attacks.filter { $0.category == .leaks }.count >= 6)
        let data = Data(SelftestReport.listJSON(attacks).encoded().utf8)
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let listed = try #require(document["attacks"] as? [[String: String]])
        #expect(listed.map { $0["id"] } == attacks.map(\.id))
        for attack in attacks {
            #expect(!attack.description.isEmpty && !attack.defence.isEmpty && !attack.control.isEmpty, "\(attack.id)")
        }
    }
}
