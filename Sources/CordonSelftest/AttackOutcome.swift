/// An attack's verdict.
public enum Verdict: String, Sendable, Equatable {
    /// The control succeeded and the attack did not.
    case held
    /// The attack succeeded: a door is open.
    case open = "OPEN"
    /// The control did not succeed (or a run could not be made): the attack proves nothing.
    case invalid
    /// This kernel lacks what the attack goes for (the control on the host got ENOSYS):
    /// there is no door to try. Never drawn when the attack itself was seen to succeed.
    case notApplicable = "n/a"
    /// Run by an ordinary user, the control needs a privilege only root has on the host
    /// (`Attack.controlNeedsRoot`), so the attack proves nothing here; run as root to prove it.
    /// Never drawn when the attack itself was seen to succeed.
    case needsRoot = "needs root"
}

/// One attack's result: both runs and the verdict drawn from them.
public struct AttackOutcome: Sendable {
    public var attack: Attack
    /// nil when the control could not be run at all.
    public var control: Observation?
    public var verdict: Verdict
    /// What was observed, host side: the attack's observation, or why it is invalid.
    public var evidence: String

    public init(attack: Attack, control: Observation?, verdict: Verdict, evidence: String) {
        self.attack = attack
        self.control = control
        self.verdict = verdict
        self.evidence = evidence
    }

    public var controlSucceeded: Bool { control?.succeeded ?? false }

    /// `succeeded`, `failed`, or `absent` (the kernel has no such facility).
    public var controlResult: String {
        if controlSucceeded { return "succeeded" }
        if control?.featureAbsent == true { return "absent" }
        return verdict == .needsRoot ? "needs root" : "failed"
    }

    /// The verdict from the two runs. An attack observed to succeed is OPEN whatever the control
    /// did (an observed breach is never hidden behind a broken control); otherwise a control that
    /// did not succeed, or a run that could not be made, makes it invalid (`needs root` when the
    /// run is not root's and the control needs root); otherwise held.
    public static func judge(
        _ attack: Attack, control: Result<Observation, SelftestFailure>, attackRun: Result<Observation, SelftestFailure>,
        runByRoot: Bool = true
    ) -> AttackOutcome {
        let controlObservation = try? control.get()
        if case .success(let seen) = attackRun, seen.succeeded {
            return AttackOutcome(attack: attack, control: controlObservation, verdict: .open, evidence: seen.evidence)
        }
        if !runByRoot, let why = attack.controlNeedsRoot, controlObservation?.succeeded != true {
            let seen: String
            switch (controlObservation, control) {
            case (let c?, _): seen = c.evidence
            case (nil, .failure(let failure)): seen = failure.description
            case (nil, .success): seen = ""
            }
            return AttackOutcome(
                attack: attack, control: controlObservation, verdict: .needsRoot,
                evidence:
                    "run by an ordinary user: the control \(why); the host refuses it to this user too (\(seen)); run cordon selftest as root to prove this one"
            )
        }
        switch attackRun {
        case .success(let seen) where seen.succeeded:
            return AttackOutcome(attack: attack, control: controlObservation, verdict: .open, evidence: seen.evidence)
        case .success(let seen):
            switch control {
            case .failure(let failure):
                return AttackOutcome(attack: attack, control: nil, verdict: .invalid, evidence: "control could not run: \(failure)")
            case .success(let c) where c.featureAbsent:
                return AttackOutcome(attack: attack, control: c, verdict: .notApplicable, evidence: "not applicable here: \(c.evidence)")
            case .success(let c) where !c.succeeded:
                return AttackOutcome(attack: attack, control: c, verdict: .invalid, evidence: "control did not succeed: \(c.evidence)")
            case .success(let c):
                return AttackOutcome(attack: attack, control: c, verdict: .held, evidence: seen.evidence)
            }
        case .failure(let failure):
            return AttackOutcome(attack: attack, control: controlObservation, verdict: .invalid, evidence: "attack could not run: \(failure)")
        }
    }
}
