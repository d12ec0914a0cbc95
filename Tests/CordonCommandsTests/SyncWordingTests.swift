@testable import CordonCommands
@testable import CordonFS
@testable import CordonGate
import CordonScan
import Testing

/// `cordon sync` says what it does, with one wording for the run, the dry run and the prompt.
struct SyncWordingTests {
    static func change(_ path: String) -> Change { Change(kind: .added, path: path, type: .file, size: 1, mode: 0o644) }

    /// A report of `clean` clean files, `blocked` files holding a secret and `traps` waiting for approval.
    static func decision(clean: Int, blocked: Int, traps: Int = 0, approve: Bool = false, partial: Bool = false) -> SyncDecision {
        var changes: [Change] = []
        var findings: [Finding] = []
        for i in 0..<clean { changes.append(change("c\(i)")) }
        for i in 0..<blocked {
            changes.append(change("b\(i)"))
            findings.append(Finding(ruleID: "github-token", severity: .block, path: "b\(i)", message: "", fix: ""))
        }
        for i in 0..<traps {
            changes.append(change("t\(i)"))
            findings.append(Finding(ruleID: "trap-git-hooks", severity: .approval, path: "t\(i)", message: "", fix: ""))
        }
        let report = SyncGate.Report(changes: changes, findings: findings)
        return SyncDecision(plans: [SyncPlan(report: report, approve: approve, force: false)], partial: partial)
    }

    /// The dry run says what the same command would do: a held entry holds the set unless --partial.
    @Test func aDryRunSaysWhatTheRunDoes() {
        let held = Self.decision(clean: 3, blocked: 1)
        #expect(held.toApply.flatMap { $0 }.isEmpty)
        #expect(
            held.outcome(destinations: ["/w"], dryRun: true) == "dry run: nothing would apply: 1 change held back (use --partial to apply the 3 clean ones)")
        #expect(
            held.outcome(destinations: ["/w"], dryRun: false, applied: 0) == "nothing applied: 1 change held back (use --partial to apply the 3 clean ones)")
        let partial = Self.decision(clean: 3, blocked: 1, partial: true)
        #expect(partial.toApply.flatMap { $0 }.map(\.path) == ["c0", "c1", "c2"])
        #expect(partial.outcome(destinations: ["/w"], dryRun: true) == "dry run: would apply 3 changes to /w, 1 change held back")
        #expect(partial.outcome(destinations: ["/w"], dryRun: false, applied: 3) == "applied 3 changes to /w, 1 change held back")
        let one = Self.decision(clean: 1, blocked: 0)
        #expect(one.outcome(destinations: ["/w", "/d"], dryRun: false, applied: 1) == "applied 1 change to /w and /d")
        #expect(Self.decision(clean: 0, blocked: 2).outcome(destinations: [], dryRun: false, applied: 0) == "nothing applied: 2 changes held back")
        #expect(Self.decision(clean: 0, blocked: 0).outcome(destinations: [], dryRun: true) == "dry run: nothing to apply")
    }

    /// Nothing held: a plain yes/no, in the singular for one change.
    @Test func nothingHeldAsksYesOrNo() throws {
        let d = Self.decision(clean: 1, blocked: 0)
        let choices = try #require(SyncChoices.make(decision: d, approved: d, destinations: ["/w"]))
        #expect(choices.question == "Apply 1 change to /w? [y/N] ")
        #expect(choices.choice(for: "y") == .apply)
        #expect(choices.choice(for: "Yes") == .apply)
        #expect(choices.choice(for: "") == .abort)
        #expect(choices.choice(for: nil) == .abort)
        #expect(choices.choice(for: "a") == .abort)
    }

    /// Something held: the prompt offers what can be done (apply the clean ones, show the
    /// findings, abort), never a yes that then applies nothing.
    @Test func somethingHeldOffersWhatCanBeDone() throws {
        let d = Self.decision(clean: 1, blocked: 1)
        let choices = try #require(SyncChoices.make(decision: d, approved: Self.decision(clean: 1, blocked: 1, approve: true), destinations: ["/w"]))
        #expect(choices.options.map(\.choice) == [.partial, .showFindings, .abort])
        #expect(choices.question == "1 change held back. What now? [a/s/Q] ")
        #expect(choices.listing.contains("[a] apply the 1 clean change and hold back 1 flagged one (as --partial)"))
        #expect(choices.choice(for: "y") == .abort, "no approval is pending: y is not a choice")
        #expect(choices.choice(for: "a") == .partial)
        #expect(choices.choice(for: "s") == .showFindings)
        #expect(choices.choice(for: "\n") == .abort)
    }

    @Test func approvalIsOfferedOnlyWhenItChangesWhatApplies() throws {
        let d = Self.decision(clean: 1, blocked: 1, traps: 2)
        let approved = Self.decision(clean: 1, blocked: 1, traps: 2, approve: true)
        let choices = try #require(SyncChoices.make(decision: d, approved: approved, destinations: ["/w"]))
        #expect(choices.options.map(\.choice) == [.approve, .partial, .showFindings, .abort])
        #expect(
            choices.listing.contains("[y] approve the 2 changes waiting for approval (host-execution traps) and apply 3 changes, holding back 1 flagged one"))
        let onlyTraps = Self.decision(clean: 0, blocked: 0, traps: 1)
        let all = try #require(
            SyncChoices.make(decision: onlyTraps, approved: Self.decision(clean: 0, blocked: 0, traps: 1, approve: true), destinations: ["/w"]))
        #expect(all.options.map(\.choice) == [.approve, .showFindings, .abort])
        #expect(all.listing.contains("and apply the 1 change"))
    }

    /// Nothing could apply whatever the answer: no question at all.
    @Test func noQuestionWhenNothingCanApply() {
        let d = Self.decision(clean: 0, blocked: 2)
        #expect(SyncChoices.make(decision: d, approved: d, destinations: []) == nil)
        let none = Self.decision(clean: 0, blocked: 0)
        #expect(SyncChoices.make(decision: none, approved: none, destinations: []) == nil)
    }

    /// An overlay mount's part of the sync report: its path in the sandbox, its host directory,
    /// and paths relative to it, in snake_case beside the workspace's fields.
    @Test func theSyncReportCarriesEachMount() throws {
        var report = SyncCommand.Report(
            sandbox: "s", dryRun: false, applied: ["w.txt"], held: [], findings: [], summary: .init(), recovered: nil, exitCode: 1)
        report.mounts = [
            SyncCommand.MountReport(
                mount: "/data", host: "/home/u/data", applied: ["a.txt"], held: ["creds.txt"],
                findings: [Finding(ruleID: "github-token", severity: .block, path: "creds.txt", message: "m", fix: "f")], summary: .init())
        ]
        let text = try JSONOutput.text(report)
        #expect(text.contains("\"mounts\""))
        #expect(text.contains("\"mount\" : \"/data\""), "\(text)")
        #expect(text.contains("\"host\" : \"/home/u/data\""), "\(text)")
        #expect(text.contains("\"rule_id\" : \"github-token\""), "\(text)")
        #expect(text.contains("\"dry_run\" : false"), "\(text)")
    }
}
