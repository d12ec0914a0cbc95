import CordonCore
import Yams

/// Reads Yams nodes into values, recording a diagnostic with line and column for every problem
/// instead of stopping at the first.
struct NodeReader {
    typealias Entry = (key: String, keyNode: Node, value: Node)

    let file: String
    var diagnostics: [ProfileDiagnostic] = []

    init(file: String) { self.file = file }

    /// Composes `text` into a node tree; a syntax error becomes a diagnostic.
    mutating func compose(_ text: String) -> Node?? {
        do {
            return .some(try Yams.compose(yaml: text))
        } catch let error as YamlError {
            switch error {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
                report(at: mark, "", "YAML syntax error: \(problem)", hint: "check indentation and quoting around this position")
            case .duplicatedKeysInMapping(let duplicates, let context):
                report(
                    at: context.mark, "", "duplicate key \(duplicates.map { "\"\($0)\"" }.joined(separator: ", "))",
                    hint: "write each key once per mapping")
            default:
                diagnostics.append(ProfileDiagnostic(location: .init(file: file), field: "", message: "YAML error: \(error)"))
            }
            return nil
        } catch {
            diagnostics.append(ProfileDiagnostic(location: .init(file: file), field: "", message: "YAML error: \(error)"))
            return nil
        }
    }

    func location(_ node: Node) -> CordonError.Location {
        CordonError.Location(file: file, line: node.mark?.line, column: node.mark?.column)
    }

    mutating func report(_ node: Node, _ field: String, _ message: String, hint: String? = nil) {
        diagnostics.append(ProfileDiagnostic(location: location(node), field: field, message: message, hint: hint))
    }

    mutating func report(at mark: Mark, _ field: String, _ message: String, hint: String? = nil) {
        let location = CordonError.Location(file: file, line: mark.line, column: mark.column)
        diagnostics.append(ProfileDiagnostic(location: location, field: field, message: message, hint: hint))
    }

    // MARK: Structure

    /// A mapping's entries; keys outside `keys` are reported (with a "did you mean").
    mutating func mapping(_ node: Node, _ field: String, keys: [String]) -> [Entry]? {
        guard let entries = anyMapping(node, field) else { return nil }
        return entries.filter { entry in
            guard keys.contains(entry.key) else {
                let path = Self.join(field, entry.key)
                report(entry.keyNode, path, "unknown field \"\(entry.key)\"", hint: Suggestion.hint(for: entry.key, among: keys))
                return false
            }
            return true
        }
    }

    /// A mapping with arbitrary string keys (env, resolve, rate_limits).
    mutating func anyMapping(_ node: Node, _ field: String) -> [Entry]? {
        guard let mapping = node.mapping else {
            report(
                node, field, "expected a mapping (key: value), found \(Self.describe(node))",
                hint: "write one `key: value` per line under `\(Self.leaf(field)):`")
            return nil
        }
        var entries: [Entry] = []
        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string else {
                report(keyNode, field, "keys must be plain strings, found \(Self.describe(keyNode))", hint: "write a plain key before the colon")
                continue
            }
            entries.append((key, keyNode, value))
        }
        return entries
    }

    mutating func sequence(_ node: Node, _ field: String) -> [Node]? {
        guard let sequence = node.sequence else {
            report(
                node, field, "expected a list, found \(Self.describe(node))", hint: "write a list: `\(Self.leaf(field)): [item, …]` or one `- item` per line")
            return nil
        }
        return Array(sequence)
    }

    // MARK: Scalars

    mutating func string(_ node: Node, _ field: String, allowEmpty: Bool = false) -> String? {
        guard let scalar = node.scalar, node.null == nil || scalar.style != .plain else {
            report(node, field, "expected a string, found \(Self.describe(node))", hint: "write a value, quoted if it contains special characters")
            return nil
        }
        if !allowEmpty && scalar.string.isEmpty {
            report(node, field, "must not be empty", hint: "give a value or remove the entry")
            return nil
        }
        return scalar.string
    }

    mutating func bool(_ node: Node, _ field: String) -> Bool? {
        guard node.scalar?.style == .plain, let value = node.bool else {
            report(node, field, "expected true or false, found \(Self.describe(node))", hint: "write true or false, unquoted")
            return nil
        }
        return value
    }

    mutating func positiveInt(_ node: Node, _ field: String) -> Int? {
        guard node.scalar?.style == .plain, let value = node.int, value > 0 else {
            report(node, field, "expected a positive whole number, found \(Self.describe(node))", hint: "write a number such as 60, unquoted")
            return nil
        }
        return value
    }

    mutating func positiveDouble(_ node: Node, _ field: String) -> Double? {
        guard node.scalar?.style == .plain, let value = node.float ?? node.int.map(Double.init), value > 0, value.isFinite else {
            report(node, field, "expected a positive number, found \(Self.describe(node))", hint: "write a number such as 2 or 1.5, unquoted")
            return nil
        }
        return value
    }

    mutating func size(_ node: Node, _ field: String) -> UInt64? {
        guard let text = node.scalar?.string, let value = ByteSize.parse(text) else {
            report(node, field, "\(Self.describe(node)) is not a valid size", hint: "write \(ByteSize.expected) (units are powers of 1024)")
            return nil
        }
        return value
    }

    mutating func duration(_ node: Node, _ field: String) -> Double? {
        guard let text = node.scalar?.string, let value = TimeSpan.parse(text) else {
            report(node, field, "\(Self.describe(node)) is not a valid duration", hint: "write \(TimeSpan.expected)")
            return nil
        }
        return value
    }

    mutating func choice<E: RawRepresentable & CaseIterable>(_ node: Node, _ field: String, _ type: E.Type) -> E? where E.RawValue == String {
        let allowed = E.allCases.map(\.rawValue)
        guard let text = node.scalar?.string, let value = E(rawValue: text) else {
            let hint = "use one of: " + allowed.joined(separator: ", ")
            report(
                node, field, "\(Self.describe(node)) is not one of \(allowed.joined(separator: " | "))",
                hint: node.scalar.flatMap { Suggestion.closest(to: $0.string, among: allowed) }.map { "did you mean \"\($0)\"? " + hint } ?? hint)
            return nil
        }
        return value
    }

    /// A list of strings, each checked by `check` (which returns a problem and an optional hint).
    mutating func strings(_ node: Node, _ field: String, check: (String) -> (String, String?)? = { _ in nil }) -> [String] {
        guard let items = sequence(node, field) else { return [] }
        var result: [String] = []
        for (index, item) in items.enumerated() {
            let path = "\(field)[\(index)]"
            guard let text = string(item, path) else { continue }
            if let (problem, hint) = check(text) {
                report(item, path, "\"\(text)\" \(problem)", hint: hint)
                continue
            }
            if !result.contains(text) { result.append(text) }
        }
        return result
    }

    // MARK: Helpers

    static func join(_ field: String, _ key: String) -> String { field.isEmpty ? key : field + "." + key }

    static func leaf(_ field: String) -> String {
        String(field.split(separator: ".").last?.split(separator: "[").first ?? Substring(field))
    }

    /// How a node reads in a message: `"*.github"`, `a list`, `a mapping`, `nothing`.
    static func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain && node.null != nil { return "nothing" }
            return "\"\(scalar.string)\""
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        case .alias: return "an alias"
        }
    }
}

/// "Did you mean" for misspelled keys and values: snake_case for camelCase, else the nearest name.
enum Suggestion {
    static func closest(to word: String, among candidates: [String]) -> String? {
        let snake = snakeCase(word)
        if snake != word, candidates.contains(snake) { return snake }
        let lowered = word.lowercased()
        if let exact = candidates.first(where: { $0.lowercased() == lowered }) { return exact }
        let scored = candidates.map { ($0, distance(lowered, $0.lowercased())) }.min { $0.1 < $1.1 }
        guard let (best, score) = scored, score <= max(2, word.count / 3) else { return nil }
        return best
    }

    static func hint(for word: String, among candidates: [String]) -> String {
        if let best = closest(to: word, among: candidates) { return "did you mean \"\(best)\"?" }
        return "known fields: " + candidates.joined(separator: ", ")
    }

    static func snakeCase(_ word: String) -> String {
        var out = ""
        for ch in word {
            if ch.isUppercase {
                if !out.isEmpty { out.append("_") }
                out.append(contentsOf: ch.lowercased())
            } else if ch == "-" {
                out.append("_")
            } else {
                out.append(ch)
            }
        }
        return out
    }

    /// Levenshtein distance.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
