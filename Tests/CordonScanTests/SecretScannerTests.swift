@testable import CordonScan
import Foundation
import CordonTestSupport
import Testing

@Suite struct SecretScannerTests {
    static let scanners: [SecretScanner] = {
        guard let rules = try? RuleSet.defaults() else { return [] }
        return [try? SecretScanner(rules), try? SecretScanner(rules, useHyperscan: false)].compactMap { $0 }
    }()

    // Assembled at run time so this file holds no literal that looks like a live key.
    static let aws = "AKIA" + "QYLPMN5HHHFPZAM2"
    static let github = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
    static let slack = "xoxb-" + "1234567890123-1234567890123-" + "aBcDeFgHiJkLmNoPqRsTuVwX"
    static let stripe = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc9xQ"
    static let anthropic = "sk-ant-api03-" + String(repeating: "aB3_xZ9-qW7e", count: 8) + "AA"
    static let openai = "sk-proj-" + "Ab12Cd34Ef56Gh78Ij90Kl" + "T3BlbkFJ" + "Mn12Op34Qr56St78Uv90Wx"
    static let gcp = "AIza" + "SyD3x7Q9mK2pL5vN8rT1wZ4bC6fH0jM2sQu"
    static let jwt =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9" + "." + "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0" + "."
        + "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    static let key =
        "-----BEGIN " + "RSA PRIVATE KEY-----\n" + String(repeating: "MIIEowIBAAKCAQEA7yN3+abcdEFGH/ijklMNOP\n", count: 4) + "-----END RSA PRIVATE KEY-----\n"

    @Test(arguments: [
        ("aws-access-key-id", "aws_access_key_id = \(aws)\n"),
        ("aws-access-key-id", "{\"key\":\"\(aws)\"}"),
        ("github-token", "export GITHUB_TOKEN=\(github)\n"),
        ("github-token", "url = https://x:\(github)@github.com/o/r.git"),
        ("slack-token", "SLACK=\(slack)"),
        ("stripe-key", "stripe.api_key = '\(stripe)'"),
        ("anthropic-api-key", "ANTHROPIC_API_KEY=\(anthropic)\n"),
        ("openai-api-key", "client = OpenAI(api_key=\"\(openai)\")"),
        ("gcp-api-key", "const k = \"\(gcp)\";"),
        ("jwt", "Authorization: Bearer \(jwt)\n"),
        ("private-key", "config:\n" + key),
        ("generic-api-key", "db_password = \"Zq8vLm2-pR7tW4xK9sB\"\n"),
        ("generic-api-key", "  \"apiToken\": \"4f9c2e7a81b3d6f05e2c9a7b3d1f8e6c\",\n"),
        // Same shapes as the identifier look-alikes below, but random: still secrets.
        ("generic-api-key", "private_key: Ed25519Pk7QmZ4xW9rTbN2\n"),
        ("generic-api-key", "auth_token = \"w32-k9Xq-7vRt-2mZp-8LwQ\"\n"),
        ("generic-api-key", "SECRET_KEY = 'sha256x9Kq2LmVb7ZtR4wPn'\n"),
    ])
    func findsSecrets(rule: String, text: String) {
        #expect(Self.scanners.count == 2)
        for scanner in Self.scanners {
            let findings = scanner.scan(Array(("line one\n" + text).utf8), path: "src/app.txt")
            #expect(findings.contains { $0.ruleID == rule }, "\(rule) missed (hyperscan: \(scanner.usesHyperscan)): \(findings.map(\.ruleID))")
            if let f = findings.first(where: { $0.ruleID == rule }) {
                #expect(f.line == 2 || rule == "private-key")
                #expect(f.match.map { !$0.contains(text.dropFirst(20).prefix(16)) } ?? true)
            }
        }
    }

    @Test(arguments: [
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
        "API_KEY=your-api-key-here",
        "token = \"${GITHUB_TOKEN}\"",
        "password = \"{{ vault_password }}\"",
        "secret_key = \"xxxxxxxxxxxxxxxxxxxxxxxx\"",
        "api_key = os.environ[\"API_KEY\"]",
        "token = self.session.get_token_for_user",
        "password: <your-password>",
        "const apiKeyHeader = \"X-Api-Key-Header-Name\";",
        "key = settings.DEFAULT_ENCRYPTION_KEY_NAME",
        "commit = \"3f786850e387550fdab836ed7e6dc881de23001b\"",
        "ghp_ is the prefix of GitHub tokens",
        // Seen in /usr/lib/python3: identifiers, constants and digests after a secret-like name.
        "    private_key: _ALLOWED_PRIVATE_KEY_TYPES,",
        "    self, public_key: CERTIFICATE_ISSUER_PUBLIC_KEY_TYPES",
        "from yaml.tokens import (AliasToken, AnchorToken, ScalarToken, FlowMappingStartToken, KeyToken,",
        "    backend: \"Backend\", private_key: \"_EllipticCurvePrivateKey\", data: bytes",
        "    (Ed25519PrivateKey, Ed25519PublicKey, Ed448PrivateKey, Ed448PublicKey),",
        "    'w32-register-hot-key', 'w32-registered-hot-keys',",
        "    ExtensionOID.AUTHORITY_INFORMATION_ACCESS: \"authorityInfoAccess\",",
        "pip/_vendor/requests/auth.py,sha256=h-HLlVx9j8rKV5hfSAycP2ApOSglTz77R0tz7qCbbEE,10187",
        "  \"integrity\": \"sha512-Pe6YJ6kPNcq7hkC4v9pVnJtBvCNh+4Qc2aw3bTnUu6zjyVaMbEt8eVcmQ8sXkVZzc9NtM2c2g1Pf5GxPnEqwYg==\",",
    ])
    func ignoresLookAlikes(text: String) {
        for scanner in Self.scanners {
            let findings = scanner.scan(Array(text.utf8), path: "README.md")
            #expect(findings.isEmpty, "false positive (hyperscan: \(scanner.usesHyperscan)): \(findings.map { "\($0.ruleID) \($0.match ?? "")" })")
        }
    }

    @Test func binaryFilesAreScanned() {
        for scanner in Self.scanners {
            var bytes = Array("prefix \(Self.github) suffix".utf8)
            bytes.insert(0, at: 3)
            #expect(scanner.scan(bytes, path: "blob.bin").map(\.ruleID) == ["github-token"])
        }
    }

    @Test func hyperscanTakesEveryDefaultRule() throws {
        let scanner = try SecretScanner(try RuleSet.defaults())
        #expect(scanner.usesHyperscan)
        #expect(scanner.fallbackRules.isEmpty, "rules Hyperscan rejected: \(scanner.fallbackRules)")
    }

    @Test func gitleaksConfigFormat() throws {
        let toml = #"""
            [extend]
            useDefault = true
            disabledRules = ["jwt"]

            [[rules]]
            id = "internal-token"
            description = "Internal service token"
            regex = '''\b(itk_(?P<body>[a-z0-9]{20,32}))\b'''
            secretGroup = 1
            keywords = ["itk_"]
            [[rules.allowlists]]
            regexTarget = "line"
            regexes = ['''fixture''']

            [[rules]]
            id = "pkcs12-file"
            description = "PKCS#12 file"
            path = '''\.p12$'''

            [allowlist]
            paths = ['''^testdata/''']
            """#
        let rules = try RuleSet.parse(toml, source: "test.toml")
        #expect(!rules.rules.contains { $0.id == "jwt" })
        #expect(rules.rules.contains { $0.id == "github-token" })
        let scanner = try SecretScanner(rules)
        let hit = scanner.scan(Array("x = itk_abcdefghijklmnop0123456789\n".utf8), path: "a.py")
        #expect(hit.map(\.ruleID) == ["internal-token"])
        #expect(scanner.scan(Array("x = itk_abcdefghijklmnop0123456789 # fixture".utf8), path: "a.py").isEmpty)
        #expect(scanner.scan(Array("x = itk_abcdefghijklmnop0123456789".utf8), path: "testdata/a.py").isEmpty)
        #expect(scanner.scan(Array("binary".utf8), path: "certs/client.p12").map(\.ruleID) == ["pkcs12-file"])
        #expect(scanner.scan(Array("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U".utf8), path: "a").isEmpty)
    }

    @Test func brokenConfigsFailClosed() {
        #expect(throws: (any Error).self) { try RuleSet.parse("[[rules]\nid=", source: "bad.toml") }
        #expect(throws: (any Error).self) { try RuleSet.parse("[[rules]]\ndescription = \"no id\"\nregex = 'x'", source: "bad.toml") }
        #expect(throws: (any Error).self) { try RuleSet.load(path: "/nonexistent/gitleaks.toml") }
        let bad = RuleSet(rules: [SecretRule(id: "broken", regex: "(unclosed")])
        #expect(throws: (any Error).self) { try SecretScanner(bad) }
    }

    @Test func entropy() {
        #expect(SecretScanner.shannonEntropy("aaaa") == 0)
        #expect(abs(SecretScanner.shannonEntropy("ab") - 1) < 1e-9)
        #expect(SecretScanner.redact(Self.github).hasPrefix("ghp_…"))
    }
}

@Suite struct SecretScannerEngineTests {
    /// The Hyperscan path (with the generic rule tried only where its key names occur) and the
    /// portable path (every rule's regex over the whole file) must report the same findings.
    @Test func hyperscanAndPortablePathsAgree() throws {
        let rules = try RuleSet.defaults()
        let fast = try SecretScanner(rules)
        let portable = try SecretScanner(rules, useHyperscan: false)
        #expect(fast.usesHyperscan && !portable.usesHyperscan)
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
        func value(_ n: Int) -> String { String((0..<n).map { _ in alphabet.randomElement(using: &generator)! }) }
        var lines: [String] = []
        for i in 0..<400 {
            switch i % 8 {
            case 0: lines.append("api_key = \"\(value(24))\"")
            case 1: lines.append("    secret_token: \(value(32)),  # api key \(value(20))")
            case 2: lines.append("AuthTokenKEY=\(value(18)) password=\(value(22))")
            case 3: lines.append("token = self._session_token or get_token(user)")
            case 4: lines.append("const accessKey = process.env.ACCESS_KEY; // key=\(value(40))")
            case 5: lines.append("x = 1  # keykeykey api=api=api= \(value(5))")
            case 6: lines.append("credentials.creds_pwd := '\(value(16))'")
            default: lines.append("\u{212A}ey = \"\(value(24))\"; passwd\t=  \(value(30));")
            }
        }
        let bytes = Array(lines.joined(separator: "\n").utf8)
        let a = fast.scan(bytes, path: "src/config.py").map { "\($0.ruleID):\($0.line ?? 0):\($0.column ?? 0)" }.sorted()
        let b = portable.scan(bytes, path: "src/config.py").map { "\($0.ruleID):\($0.line ?? 0):\($0.column ?? 0)" }.sorted()
        #expect(a.count > 300)
        #expect(a == b, "only fast: \(Set(a).subtracting(b).sorted().prefix(5)), only portable: \(Set(b).subtracting(a).sorted().prefix(5))")
    }

    /// A rule the exact engine cannot decide within its limits holds the file back (fail closed)
    /// instead of hanging the gate or passing the file.
    @Test func catastrophicBacktrackingHoldsTheFileBack() throws {
        let rules = RuleSet(rules: [SecretRule(id: "pathological", regex: "(a+)+b")])
        let scanner = try SecretScanner(rules, useHyperscan: false)
        let findings = scanner.scan(Array((String(repeating: "a", count: 40) + "cb").utf8), path: "x.txt")
        #expect(findings.map(\.ruleID) == ["pathological"])
        #expect(findings.first?.severity == .block)
        #expect(findings.first?.message.contains("gave up") == true)
    }

    /// The compiled database is cached by its exact pattern list: a second scanner loads it and
    /// finds the same; a corrupt or foreign cache file is ignored (compiled again), never trusted.
    @Test func compiledDatabasesAreCachedAndCheckedAgainstTheirRules() throws {
        let scratch = try TempTree(prefix: "cordon-hs-cache")
        let dir = scratch.path("cache")
        let rules = try RuleSet.defaults()
        let sample = Array("x = 1\nexport GITHUB_TOKEN=\(SecretScannerTests.github)\napi_key = \"Zq8vLm2-pR7tW4xK9sB\"\n".utf8)
        let first = try SecretScanner(rules, cacheDirectory: dir)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".hsdb") }
        #expect(files.count == 1)
        let second = try SecretScanner(rules, cacheDirectory: dir)
        let expected = first.scan(sample, path: "a.sh").map(\.ruleID).sorted()
        #expect(Set(expected) == ["generic-api-key", "github-token"])
        #expect(second.scan(sample, path: "a.sh").map(\.ruleID).sorted() == expected)
        // Garbage in the cache: compiled again, same answers, and the file is rewritten.
        let file = dir + "/" + files[0]
        try Data("not a database".utf8).write(to: URL(fileURLWithPath: file))
        #expect(try SecretScanner(rules, cacheDirectory: dir).scan(sample, path: "a.sh").map(\.ruleID).sorted() == expected)
        #expect(try Data(contentsOf: URL(fileURLWithPath: file)).count > 1000)
        // Another rule set's database under this name (a hash collision, or a planted file) is not used.
        let other = RuleSet(rules: [SecretRule(id: "only-x", regex: "xyzzy")])
        let otherDir = dir + "-other"
        defer { _ = try? FileManager.default.removeItem(atPath: otherDir) }
        _ = try SecretScanner(other, cacheDirectory: otherDir)
        let otherFile = try FileManager.default.contentsOfDirectory(atPath: otherDir)[0]
        try FileManager.default.removeItem(atPath: file)
        try FileManager.default.copyItem(atPath: otherDir + "/" + otherFile, toPath: file)
        #expect(try SecretScanner(rules, cacheDirectory: dir).scan(sample, path: "a.sh").map(\.ruleID).sorted() == expected)
    }

    /// A file with more Hyperscan hits than one scan keeps is scanned whole by the exact engine:
    /// a secret after the millionth key name is still found.
    @Test func tooManyHitsFallBackToTheWholeFile() async throws {
        // CPU- and disk-heavy: on a thread of its own, not one of the few pool threads.
        try await onOwnThread {
            let scanner = try SecretScanner(try RuleSet.defaults())
            var text = String(repeating: "key ", count: 1_100_000)
            text += "\napi_key = \"Zq8vLm2-pR7tW4xK9sB\"\n"
            let findings = scanner.scan(Array(text.utf8), path: "big.txt")
            #expect(findings.contains { $0.ruleID == "generic-api-key" && $0.line == 2 }, "\(findings.map(\.ruleID))")
        }
    }

    @Test func everyFindingHasItsOwnLineAndColumn() throws {
        let scanner = try SecretScanner(try RuleSet.defaults())
        let text = "a = \(SecretScannerTests.aws)\n\nx\n  k = \(SecretScannerTests.aws)\n\n\n\(SecretScannerTests.aws)"
        let found = scanner.scan(Array(text.utf8), path: "f.txt").filter { $0.ruleID == "aws-access-key-id" }
        #expect(found.map(\.line) == [1, 4, 7])
        #expect(found.map(\.column) == [5, 7, 1])
    }

    @Test func leadingLiteralsAreFoundOnlyWhereAMatchMustStart() {
        #expect(SecretScanner.leadingLiterals("(?i)(?:access|key)[ \\t]{0,3}=") == ["access", "key"])
        #expect(SecretScanner.leadingLiterals("(?:ab|cd)x") == ["ab", "cd"])
        #expect(SecretScanner.leadingLiterals("(?:ab|cd)?x") == nil)
        #expect(SecretScanner.leadingLiterals("(?:ab|cd)|x") == nil)
        #expect(SecretScanner.leadingLiterals("(?:a.b|cd)x") == nil)
        #expect(SecretScanner.leadingLiterals("\\b(?:ab)x") == nil)
    }

    @Test func stopwordsMatchAnywhereCaseInsensitively() {
        let words = Stopwords(["process.env", "Getenv", "self."])
        #expect(words.occur(in: "x_PROCESS.ENV_y"))
        #expect(words.occur(in: "os.getenv"))
        #expect(!words.occur(in: "selfish"))
        #expect(!Stopwords(["abc"]).occur(in: "ab"))
        #expect(Stopwords([]).isEmpty)
    }
}
