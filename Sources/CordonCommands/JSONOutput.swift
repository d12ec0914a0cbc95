import CordonConfig
import CordonCore
import FoundationEssentials

/// Every JSON document a command prints: keys in snake_case, a top-level `"version"` (bumped
/// when a shape changes incompatibly), pretty-printed. Scripts and the MCP server read these
/// shapes; docs/json.md describes each one.
enum JSONOutput {
    static let version = 1

    /// A document built field by field: `version` first, then `fields` in the order given.
    static func document(_ fields: [(String, JSONValue)]) -> JSONValue {
        .object([("version", .int(version))] + fields)
    }

    /// A document as it is printed (no trailing newline).
    static func text(_ fields: [(String, JSONValue)]) -> String {
        JSONPretty.format(document(fields))
    }

    /// An `Encodable` report (which carries its own `version`): Swift's camelCase property
    /// names become snake_case keys, sorted.
    static func text<T: Encodable>(_ value: T) throws(CordonError) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            throw CordonError(.internal, "cannot encode JSON output", cause: "\(error)")
        }
    }

    static func print(_ fields: [(String, JSONValue)]) {
        Swift.print(text(fields))
    }

    static func print<T: Encodable>(_ value: T) throws(CordonError) {
        Swift.print(try text(value))
    }
}
