/// One attack of `cordon selftest`: what it tries, which defence should stop it, and its two
/// runs, each judged by an observation on the far side (docs/selftest.md).
public struct Attack: Sendable {
    /// A run: the positive control or the attack itself.
    public typealias Run = @Sendable (SelftestEnvironment) throws(SelftestFailure) -> Observation

    /// Unique and stable (`fs.proc-root-walk`): scripts and CI refer to it.
    public let id: String
    public let category: SelftestCategory
    /// One line: what the attack tries.
    public let description: String
    /// One line: the layer that should stop it.
    public let defence: String
    /// One line: the positive control (the same attack with the guard absent).
    public let control: String
    public let runControl: Run
    public let runAttack: Run
    /// The control (or the fixture both runs need) takes a privilege only root has on the host:
    /// a loop device, a host sysctl, `open_by_handle_at`, the host's own namespaces. Run by an
    /// ordinary user, such an attack whose control fails is `needs root`, not invalid (and OPEN
    /// all the same when the attack is seen to succeed). The reason says what root is needed for.
    public let controlNeedsRoot: String?

    public init(
        id: String, category: SelftestCategory, description: String, defence: String, control: String, controlNeedsRoot: String? = nil,
        runControl: @escaping Run, runAttack: @escaping Run
    ) {
        self.id = id
        self.category = category
        self.description = description
        self.defence = defence
        self.control = control
        self.controlNeedsRoot = controlNeedsRoot
        self.runControl = runControl
        self.runAttack = runAttack
    }
}
