import CordonFS
import CordonGate

/// What one `cordon sync` decides, over every target (the workspace and each overlay mount): the
/// gate's plan per target, and what it applies. One wording for the real run, the dry run and the
/// prompt, so that each says what the command does.
struct SyncDecision {
    /// One plan per target, in the targets' order.
    var plans: [SyncPlan]
    /// Whether the clean entries apply while others are held (`--partial`, or chosen at the prompt).
    var partial: Bool

    var held: Int { plans.reduce(0) { $0 + $1.held.count } }
    var clean: Int { plans.reduce(0) { $0 + $1.apply.count } }
    /// Without `partial`, one held entry holds the whole change set: nothing applies.
    var applies: Bool { held == 0 || partial }
    /// What applies to each target.
    var toApply: [[Change]] { plans.map { applies ? $0.apply : [] } }
    var applying: Int { applies ? clean : 0 }

    /// The closing line: what was (or, for a dry run, would be) applied and what is held back.
    /// `destinations`: the host directories that get changes; `applied`: how many entries the
    /// applier reports (what the plan applies when nil).
    func outcome(destinations: [String], dryRun: Bool, applied: Int? = nil) -> String {
        let prefix = dryRun ? "dry run: " : ""
        let heldBack = counted(held, "change") + " held back"
        let applying = applied ?? self.applying
        if applying == 0 {
            guard held > 0 else { return prefix + "nothing to apply" }
            let hint = !partial && clean > 0 ? " (use --partial to apply the \(counted(clean, "clean one", plural: "clean ones")))" : ""
            return prefix + (dryRun ? "nothing would apply: " : "nothing applied: ") + heldBack + hint
        }
        let verb = dryRun ? "would apply" : "applied"
        return prefix + "\(verb) \(counted(applying, "change")) to \(Self.list(destinations))" + (held > 0 ? ", " + heldBack : "")
    }

    /// `a`, `a and b`, `a, b and c`.
    static func list(_ items: [String]) -> String {
        guard items.count > 1 else { return items.first ?? "the host" }
        return items.dropLast().joined(separator: ", ") + " and " + (items.last ?? "")
    }
}

/// What `cordon sync` asks at a terminal: only what it can then do.
///
/// Nothing held: apply all, or not. Something held: the choices that change what applies —
/// approve the entries that only wait for approval (host-execution traps), apply the clean entries
/// and hold back the rest (as `--partial`) — then show the findings again, or abort. When neither
/// choice would apply anything, there is no question: the command says what is held and why.
struct SyncChoices: Equatable {
    enum Choice: Equatable {
        /// Apply the plan as it stands.
        case apply
        /// Approve what only waits for approval, then apply (holding back what is still held).
        case approve
        /// Apply the clean entries, hold back the flagged ones.
        case partial
        case showFindings
        case abort
    }

    struct Option: Equatable {
        var key: String
        var choice: Choice
        var text: String
    }

    /// The last line of the question, ending in the keys to type.
    var question: String
    /// Shown one per line above the question (empty for a plain yes/no).
    var options: [Option]

    /// `decision`: the plan as it stands; `approved`: the plan with approval given.
    /// `destinations`: the host directories that would get changes.
    static func make(decision: SyncDecision, approved: SyncDecision, destinations: [String]) -> SyncChoices? {
        if decision.held == 0 {
            guard decision.clean > 0 else { return nil }
            return SyncChoices(
                question: "Apply \(counted(decision.clean, "change")) to \(SyncDecision.list(destinations))? [y/N] ",
                options: [Option(key: "y", choice: .apply, text: "")])
        }
        var options: [Option] = []
        let approvable = approved.clean - decision.clean
        if approvable > 0 {
            let rest =
                approved.held > 0
                ? "apply \(counted(approved.clean, "change")), holding back \(counted(approved.held, "flagged one"))"
                : approved.clean == 1 ? "apply the 1 change" : "apply all \(approved.clean) changes"
            options.append(
                Option(key: "y", choice: .approve, text: "approve the \(counted(approvable, "change")) waiting for approval (host-execution traps) and \(rest)")
            )
        }
        if decision.clean > 0 {
            options.append(
                Option(
                    key: "a", choice: .partial,
                    text: "apply the \(counted(decision.clean, "clean change")) and hold back \(counted(decision.held, "flagged one")) (as --partial)"))
        }
        guard !options.isEmpty else { return nil }
        options.append(Option(key: "s", choice: .showFindings, text: "show the findings again"))
        options.append(Option(key: "q", choice: .abort, text: "abort: apply nothing (the default)"))
        let keys = options.map { $0.choice == .abort ? $0.key.uppercased() : $0.key }.joined(separator: "/")
        return SyncChoices(question: "\(counted(decision.held, "change")) held back. What now? [\(keys)] ", options: options)
    }

    /// The choice an answer makes; anything else (an empty line, end of input) aborts.
    func choice(for answer: String?) -> Choice {
        guard let first = (answer ?? "").lowercased().first(where: { !$0.isWhitespace }) else { return .abort }
        if options.count == 1 { return first == "y" ? .apply : .abort }
        return options.first { $0.key == String(first) }?.choice ?? .abort
    }

    /// The options, one per line (`  [a] apply …`).
    var listing: String {
        options.filter { !$0.text.isEmpty }.map { "  [\($0.key)] \($0.text)" }.joined(separator: "\n")
    }
}
