import CordonCore
import Testing

@testable import CordonScan

/// Bugs the fuzz target fuzz/ rules found in the rule TOML loader; the reproducers are in
/// fuzz/corpus/rules/ too.
@Suite struct RuleTOMLFuzzFindingsTests {
    /// fuzz/corpus/rules/non-ascii-table-name, control-table-name, empty-table-name: toml++ (under TOMLKit) aborted
    /// the whole process on an assertion for a table header whose name starts with a character
    /// that cannot start a key. A config that does that is an error naming the line now.
    @Test func aTableNameStartingWithNonASCIIIsAnErrorNotAnAbort() {
        let inputs = [
            "[\u{FFFD}]", "[[\u{E9}]]", "title = \"x\"\n  [ \u{E9}]", "[[\t\u{200B}rules]]\nid = \"x\"", "[\u{8}\u{8}[rules]]", "[[[a]]]", "[\t\n", "[",
        ]
        for input in inputs {
            do {
                _ = try RuleSet.parse(input, source: "rules.toml")
                Issue.record("\(input.debugDescription) parsed")
            } catch {
                #expect(error.description.contains("rules.toml:") && error.message.contains("cannot start a key"), "\(error)")
            }
        }
    }

    /// Non-ASCII in a quoted table name and in values still loads.
    @Test func nonASCIIElsewhereStillLoads() throws {
        let rules = try RuleSet.parse(
            "title = \"r\u{E8}gles\"\n[[rules]]\nid = \"caf\u{E9}\"\ndescription = \"\u{E9}\"\nregex = '''caf\u{E9}[0-9]{8}'''\n", source: "rules.toml")
        #expect(rules.rules.map(\.id) == ["caf\u{E9}"])
        _ = try RuleSet.parse("[\"\u{E9}\"]\nx = 1\n", source: "rules.toml")
    }
}
