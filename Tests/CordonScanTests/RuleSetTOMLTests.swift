import CordonCore
import CordonTestSupport
import Testing

@testable import CordonScan

/// The rule loader on CordonTOML: the default rules load as they did under TOMLKit, malformed
/// configs are errors with file:line:column (never an abort), and files are read bounded.
@Suite struct RuleSetTOMLTests {
    /// The default rules as TOMLKit read them (and Python's tomllib, the reference, does): ids
    /// in order, each regex's length in scalars, keyword counts, entropies, allowlist shapes.
    @Test func defaultRulesLoadAsBefore() throws {
        let rules = try RuleSet.defaults()
        #expect(
            rules.rules.map(\.id) == [
                "aws-access-key-id", "aws-secret-access-key", "gcp-api-key", "gcp-service-account-key", "google-oauth-client-secret",
                "azure-storage-account-key", "azure-ad-client-secret", "github-token", "github-fine-grained-pat", "gitlab-token", "slack-token",
                "slack-webhook-url", "stripe-key", "openai-api-key", "anthropic-api-key", "huggingface-token", "npm-token", "pypi-token",
                "sendgrid-api-key", "digitalocean-token", "private-key", "jwt", "generic-api-key",
            ])
        #expect(
            rules.rules.map { $0.regex?.unicodeScalars.count ?? 0 } == [
                53, 121, 45, 39, 48, 36, 90, 45, 33, 75, 49, 78, 53, 102, 75, 21, 25, 42, 46, 29, 120, 93, 212,
            ])
        #expect(rules.rules.map(\.keywords.count) == [5, 1, 1, 1, 1, 1, 1, 5, 1, 5, 6, 1, 6, 1, 1, 1, 1, 1, 1, 3, 1, 1, 11])
        #expect(
            rules.rules.map(\.entropy) == [3.0, 3.5, 3.0, 0, 0, 0, 3.0, 3.0, 0, 3.0, 0, 0, 3.0, 0, 0, 3.0, 3.0, 0, 0, 0, 0, 3.0, 3.7])
        #expect(rules.rules.allSatisfy { $0.secretGroup == 0 })
        #expect(rules.allowlists.map { [$0.regexes.count, $0.paths.count, $0.stopwords.count] } == [[12, 0, 0], [1, 0, 0], [0, 1, 0]])
    }

    /// fuzz/corpus/rules/array-value-terminator (once fuzz/findings/): toml++ aborted the process on `x =[ }`.
    @Test func theArrayValueTerminatorFindingIsAnErrorWithItsPosition() {
        let finding: [UInt8] = Array("[extend]\nusfault = true\ndisabledRules =[ }".utf8) + [0, 0] + Array("ric-a`i-".utf8) + [0xFF, 0x6B]
        let cases: [([UInt8], String)] = [
            (finding, "rules.toml:3:29: the file is not valid UTF-8"),
            (Array(finding.prefix(44)), "rules.toml:3:18: expected a value"),
            (Array("x =[ }".utf8), "rules.toml:1:6: expected a value"),
            (Array("[[rules]]\nid = \"a\"\nregex = 'a'\nkeywords =[ }\n".utf8), "rules.toml:4:13: expected a value"),
        ]
        for (input, message) in cases {
            do {
                _ = try RuleSet.parse(input, source: "rules.toml")
                Issue.record("\(input) parsed")
            } catch {
                #expect(error.description.hasPrefix(message), "\(error)")
                #expect(error.location?.file == "rules.toml" && error.location?.line != nil && error.location?.column != nil)
            }
        }
    }

    @Test func aRedefinitionInARuleFileIsAnError() {
        #expect(throws: CordonError.self) { try RuleSet.parse("[[rules]]\nid = \"a\"\nid = \"b\"\nregex = 'x'\n", source: "r.toml") }
        #expect(throws: CordonError.self) { try RuleSet.parse("[allowlist]\npaths = []\n[allowlist]\n", source: "r.toml") }
    }

    @Test func anExtendedFileLargerThanTheLimitIsRefusedByName() throws {
        let tree = try TempTree()
        tree.write("main.toml", "[extend]\npath = \"big.toml\"\n")
        tree.writeBytes("big.toml", Array(repeating: UInt8(ascii: "#"), count: RuleSet.maxFileSize + 1))
        do {
            _ = try RuleSet.load(path: tree.path("main.toml"))
            Issue.record("a file over the limit loaded")
        } catch {
            #expect(error.message.contains(tree.path("big.toml")) && error.message.contains("larger than 16 MiB"), "\(error)")
        }
        tree.writeBytes("main.toml", Array(repeating: UInt8(ascii: "#"), count: RuleSet.maxFileSize + 1))
        #expect(throws: CordonError.self) { try RuleSet.load(path: tree.path("main.toml")) }
        // At the limit it is read (a comment-only file: no rules).
        tree.writeBytes("big.toml", Array(repeating: UInt8(ascii: "#"), count: RuleSet.maxFileSize))
        tree.write("main.toml", "[extend]\npath = \"big.toml\"\n")
        #expect(try RuleSet.load(path: tree.path("main.toml")).rules.isEmpty)
    }

    @Test func anExtendedFileLoadsRelativeToTheConfig() throws {
        let tree = try TempTree()
        tree.write("conf/main.toml", "[extend]\npath = \"base.toml\"\n[[rules]]\nid = \"b\"\nregex = 'b'\n")
        tree.write("conf/base.toml", "[[rules]]\nid = \"a\"\nregex = 'a'\n")
        #expect(try RuleSet.load(path: tree.path("conf/main.toml")).rules.map(\.id) == ["a", "b"])
        tree.write("conf/base.toml", "[[rules]]\nid = \"a\"\nregex = 'a'\nregex = 'b'\n")
        do {
            _ = try RuleSet.load(path: tree.path("conf/main.toml"))
            Issue.record("a redefinition in the extended file loaded")
        } catch {
            #expect(error.description.hasPrefix(tree.path("conf/base.toml") + ":4:1: the key regex is defined twice"), "\(error)")
        }
    }
}
