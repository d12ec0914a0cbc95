public import CordonCore

/// The suite's report: a text table for people, a JSON document for scripts (docs/json.md:
/// snake_case keys, `"version": 1`). Every cell a run produced (evidence) is hostile: the text
/// table escapes it for the terminal.
public struct SelftestReport: Sendable {
    public var outcomes: [AttackOutcome]

    public init(_ outcomes: [AttackOutcome]) { self.outcomes = outcomes }

    public var held: Int { outcomes.count(where: { $0.verdict == .held }) }
    public var open: Int { outcomes.count(where: { $0.verdict == .open }) }
    public var invalid: Int { outcomes.count(where: { $0.verdict == .invalid }) }
    public var notApplicable: Int { outcomes.count(where: { $0.verdict == .notApplicable }) }
    public var needsRoot: Int { outcomes.count(where: { $0.verdict == .needsRoot }) }

    /// 0 all held (or not applicable, or, run by an ordinary user, needing root: the summary says
    /// how many); 1 any OPEN; 3 none OPEN but any invalid.
    public var exitStatus: Int32 { open > 0 ? 1 : invalid > 0 ? 3 : 0 }

    /// One line: `N attacks: H held, O OPEN, I invalid` (`, A not applicable` when there are some).
    public var summaryLine: String {
        "\(outcomes.count) attacks: \(held) held, \(open) OPEN, \(invalid) invalid"
            + (notApplicable > 0 ? ", \(notApplicable) not applicable (this kernel lacks what they go for)" : "")
            + (needsRoot > 0 ? ", \(needsRoot) need root (their controls do; run as root to prove them)" : "")
    }

    /// The table: category, attack, defence, control, result; then the evidence of every attack
    /// not held; then the summary line. Cells escaped for the terminal.
    public var text: String {
        let header = ["CATEGORY", "ATTACK", "DEFENCE", "CONTROL", "RESULT"]
        let rows = outcomes.map { outcome in
            [
                outcome.attack.category.rawValue, outcome.attack.id, outcome.attack.defence,
                outcome.control == nil ? "not run" : outcome.controlResult, outcome.verdict.rawValue,
            ].map { TerminalText.escaped($0) }
        }
        var widths = header.map(\.count)
        for row in rows { for (index, cell) in row.enumerated() where index < 4 { widths[index] = max(widths[index], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in index < 4 ? cell + String(repeating: " ", count: widths[index] - cell.count) : cell }
                .joined(separator: "  ")
        }
        var out = ([line(header)] + rows.map(line)).joined(separator: "\n") + "\n"
        let notable = outcomes.filter { $0.verdict != .held }
        if !notable.isEmpty {
            out += "\n"
            for outcome in notable {
                out += TerminalText.escaped("\(outcome.verdict.rawValue) \(outcome.attack.id): \(outcome.evidence)") + "\n"
            }
        }
        return out + "\n" + summaryLine + "\n"
    }

    /// The JSON document.
    public var json: JSONValue {
        .object([
            ("version", .int(1)),
            (
                "summary",
                .object([
                    ("total", .int(outcomes.count)), ("held", .int(held)), ("open", .int(open)), ("invalid", .int(invalid)),
                    ("not_applicable", .int(notApplicable)),
                    ("needs_root", .int(needsRoot)),
                ])
            ),
            (
                "attacks",
                .array(
                    outcomes.map { outcome in
                        .object([
                            ("id", .string(outcome.attack.id)),
                            ("category", .string(outcome.attack.category.rawValue)),
                            ("description", .string(outcome.attack.description)),
                            ("defence", .string(outcome.attack.defence)),
                            ("control", .string(outcome.attack.control)),
                            ("control_result", .string(outcome.controlResult)),
                            ("result", .string(outcome.verdict.rawValue)),
                            ("evidence", .string(outcome.evidence)),
                        ])
                    })
            ),
        ])
    }

    /// `--list`: every attack, without running any.
    public static func listText(_ attacks: [Attack]) -> String {
        attacks.map { attack in
            [
                "\(attack.id)  [\(attack.category.rawValue)]", "  \(attack.description)", "  defence: \(attack.defence)",
                "  control: \(attack.control)",
            ].map { TerminalText.escaped($0) }.joined(separator: "\n")
        }.joined(separator: "\n") + "\n"
    }

    /// `--list --json`.
    public static func listJSON(_ attacks: [Attack]) -> JSONValue {
        .object([
            ("version", .int(1)),
            (
                "attacks",
                .array(
                    attacks.map { attack in
                        .object([
                            ("id", .string(attack.id)), ("category", .string(attack.category.rawValue)), ("description", .string(attack.description)),
                            ("defence", .string(attack.defence)), ("control", .string(attack.control)),
                        ])
                    })
            ),
        ])
    }
}

extension JSONValue {
    /// Indented, key order kept: the shape `cordon`'s `--json` documents print (JSONPretty in
    /// CordonConfig, which this executable does not link).
    func pretty(indent: Int = 0) -> String {
        let pad = String(repeating: "  ", count: indent + 1)
        let close = String(repeating: "  ", count: indent)
        switch self {
        case .array(let items) where !items.isEmpty:
            return "[\n" + items.map { pad + $0.pretty(indent: indent + 1) }.joined(separator: ",\n") + "\n\(close)]"
        case .object(let fields) where !fields.isEmpty:
            return "{\n" + fields.map { pad + JSONValue.quote($0.0) + ": " + $0.1.pretty(indent: indent + 1) }.joined(separator: ",\n") + "\n\(close)}"
        case .array: return "[]"
        case .object: return "{}"
        default: return encoded()
        }
    }
}
