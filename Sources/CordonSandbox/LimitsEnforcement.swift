public import CordonOS

/// How a run's `resources` limits (memory, cpus, pids) are enforced. Shown to the user and
/// written to the `start` event as its description: "cgroup v1", "cgroup v2", "rlimits", "none".
public enum LimitsEnforcement: Sendable, Equatable, CustomStringConvertible {
    /// The profile sets no limit.
    case none
    /// A cgroup of the run's own.
    case cgroup(Cgroup.Version)
    /// cgroups could not be made: memory and pids approximated with rlimits (refused under
    /// `resources.strict`; a CPU limit, which has no rlimit, is refused always).
    case rlimits

    public var description: String {
        switch self {
        case .none: "none"
        case .cgroup(let version): "cgroup " + version.rawValue
        case .rlimits: "rlimits"
        }
    }
}
