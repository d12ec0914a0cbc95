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

    public init(
        id: String, category: SelftestCategory, description: String, defence: String, control: String, runControl: @escaping Run,
        runAttack: @escaping Run
    ) {
        self.id = id
        self.category = category
        self.description = description
        self.defence = defence
        self.control = control
        self.runControl = runControl
        self.runAttack = runAttack
    }
}
