/// What was seen on the far side of one run: the canary file on the host changed or not, the
/// stand-in server received the bytes or not, the secret marker came back or not. Never the
/// attacker's own exit code.
public struct Observation: Sendable, Equatable {
    /// The thing the attack tries to do happened (for a control: the stand-in target works).
    public var succeeded: Bool
    /// A short host-side description of what was observed.
    public var evidence: String
    /// For a control: the host's kernel lacks the facility the attack goes for (ENOSYS on the host),
    /// so the attack is not applicable here rather than invalid.
    public var featureAbsent: Bool

    public init(succeeded: Bool, evidence: String, featureAbsent: Bool = false) {
        self.succeeded = succeeded
        self.evidence = evidence
        self.featureAbsent = featureAbsent
    }

    /// A control's finding that the kernel has no such facility at all.
    public static func absent(_ evidence: String) -> Observation { Observation(succeeded: false, evidence: evidence, featureAbsent: true) }

    public static func succeeded(_ evidence: String) -> Observation { Observation(succeeded: true, evidence: evidence) }
    public static func failed(_ evidence: String) -> Observation { Observation(succeeded: false, evidence: evidence) }

    /// Whether `marker` came back in `output` (stdout and stderr of the run): the secret was read out.
    public static func markerSeen(_ marker: String, in output: ProcessOutput, what: String) -> Observation {
        output.combined.contains(marker)
            ? .succeeded("\(what): the canary's marker came back in the output")
            : .failed("\(what): the marker did not come back (\(output.summary))")
    }
}

/// A run could not be made at all (a sandbox did not start, a tool is missing): the attack is
/// `invalid` with this reason, never `held`.
public struct SelftestFailure: Error, Sendable, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
