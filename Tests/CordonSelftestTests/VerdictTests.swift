import CordonTestSupport
import Foundation
import Glibc
import CordonSelftest
import Testing

/// The verdict logic: an attack proves something only when its control succeeded, and a suite
/// that cannot report OPEN proves nothing, so a deliberately broken attack must make it say so.
@Suite struct VerdictTests {
    static func fake(
        _ id: String, control: Observation? = .succeeded("stand-in reached"), attack: Observation? = .failed("stand-in not reached")
    ) -> Attack {
        Attack(
            id: id, category: .filesystem, description: "fake", defence: "none", control: "fake control",
            runControl: { (_) throws(SelftestFailure) in
                guard let control else { throw SelftestFailure("control cannot run") }
                return control
            },
            runAttack: { (_) throws(SelftestFailure) in
                guard let attack else { throw SelftestFailure("attack cannot run") }
                return attack
            })
    }

    func outcome(_ attack: Attack) throws -> AttackOutcome {
        let environment = try SelftestEnvironment(cordon: "/bin/true")
        defer { environment.cleanup() }
        return try #require(SelftestRunner(progress: false).run([attack], in: environment).first)
    }

    @Test func controlThatFailedMakesItInvalid() throws {
        let result = try outcome(Self.fake("x.control-failed", control: .failed("stand-in never reached")))
        #expect(result.verdict == .invalid)
        #expect(result.evidence.contains("control did not succeed"))
        #expect(!result.controlSucceeded)
    }

    @Test func controlThatCouldNotRunMakesItInvalid() throws {
        let result = try outcome(Self.fake("x.control-error", control: nil))
        #expect(result.verdict == .invalid)
        #expect(result.evidence.contains("control cannot run"))
    }

    @Test func attackThatCouldNotRunIsInvalidNotHeld() throws {
        let result = try outcome(Self.fake("x.attack-error", attack: nil))
        #expect(result.verdict == .invalid)
        #expect(result.evidence.contains("attack cannot run"))
    }

    @Test func attackObservedIsOpen() throws {
        let result = try outcome(Self.fake("x.open", attack: .succeeded("the canary changed")))
        #expect(result.verdict == .open)
        #expect(result.evidence == "the canary changed")
    }

    @Test func attackObservedIsOpenEvenWhenTheControlFailed() throws {
        let result = try outcome(Self.fake("x.open-broken-control", control: .failed("no"), attack: .succeeded("the canary changed")))
        #expect(result.verdict == .open)
    }

    @Test func controlSucceededAndAttackNotIsHeld() throws {
        let result = try outcome(Self.fake("x.held"))
        #expect(result.verdict == .held)
        #expect(result.controlSucceeded)
    }

    /// A deliberately broken attack (its "attack" succeeds: the door is open) makes the suite
    /// report OPEN and exit 1, among attacks that held; an invalid one alone exits 3.
    @Test func brokenAttackMakesTheSuiteExitOne() throws {
        let environment = try SelftestEnvironment(cordon: "/bin/true")
        defer { environment.cleanup() }
        let broken = Attack(
            id: "x.broken", category: .filesystem, description: "writes a host file it should not reach", defence: "none (broken on purpose)",
            control: "the host file can be written",
            runControl: { (environment) throws(SelftestFailure) in
                let canary = try CanaryFile(environment, at: environment.hostDirectory + "/broken-control.txt")
                _ = try environment.host("echo changed > " + canary.path)
                return canary.writeObservation("host write", ProcessOutput(status: 0, stdout: "", stderr: ""))
            },
            runAttack: { (environment) throws(SelftestFailure) in
                // The "attack" runs on the host: nothing guards it, so it succeeds.
                let canary = try CanaryFile(environment, at: environment.hostDirectory + "/broken-attack.txt")
                let output = try environment.host("echo changed > " + canary.path)
                return canary.writeObservation("unguarded write", output)
            })
        let report = SelftestReport(SelftestRunner(progress: false).run([Self.fake("x.held"), broken], in: environment))
        #expect(report.open == 1)
        #expect(report.held == 1)
        #expect(report.exitStatus == 1)
        let invalidOnly = SelftestReport(
            SelftestRunner(progress: false).run([Self.fake("x.held"), Self.fake("x.bad", control: .failed("no"))], in: environment))
        #expect(invalidOnly.exitStatus == 3)
        #expect(SelftestReport(SelftestRunner(progress: false).run([Self.fake("x.held")], in: environment)).exitStatus == 0)
    }
}

/// A script that did not run to its end in the sandbox (the sandbox was gone, the script was cut
/// short) proves nothing: its run throws, and the attack is invalid, never held.
@Suite struct ScriptCompletionTests {
    /// A stand-in for cordon that runs `cordon exec NAME -- CMD…` as `CMD…` on the host: /bin/sh
    /// reading a script named `exec` in the run's directory (read, never executed: no ETXTBSY
    /// from another test's spawn holding the file open for writing).
    static func fakeCordon() throws -> SelftestEnvironment {
        let environment = try SelftestEnvironment(cordon: "/bin/sh")
        try environment.write(environment.root + "/exec", "shift 2\nexec \"$@\"\n")
        return environment
    }

    @Test func aScriptThatRanToItsEndComesBackWithoutTheSentinel() throws {
        let environment = try Self.fakeCordon()
        defer { environment.cleanup() }
        let output = try environment.exec("any", "echo one; echo two >&2")
        #expect(output.stdout == "one\n")
        #expect(output.stderr == "two\n")
    }

    @Test func aScriptCutShortThrows() throws {
        let environment = try Self.fakeCordon()
        defer { environment.cleanup() }
        #expect(throws: SelftestFailure.self) { try environment.exec("any", "echo partial; exit 0") }
        #expect(throws: SelftestFailure.self) { try environment.exec("any", "echo partial; kill -9 $$") }
        let gone = try SelftestEnvironment(cordon: "/bin/false")
        defer { gone.cleanup() }
        #expect(throws: SelftestFailure.self) { try gone.exec("missing", "echo hi") }
    }
}
