@testable import CordonScan
import Foundation
import CordonTestSupport
import Testing

/// The gate in front of the anchored tries only skips places where the rule's regex cannot
/// start: each test here compares the Hyperscan path (gated) with the portable one (every rule's
/// regex over the whole file), or pins what the gate derives from a pattern.
@Suite struct AnchorGateTests {
    static let generic: String = {
        let rules = (try? RuleSet.defaults())?.rules ?? []
        return SecretScanner.confirmSyntax(rules.first { $0.id == "generic-api-key" }?.regex ?? "")
    }()

    @Test func theGenericRuleGetsAGateUpToItsOperator() throws {
        let gate = try #require(AnchorGate.derive(from: Self.generic))
        // [ \t\w.-]{0,20} then [\s'"]{0,3}: 23 characters before the operator.
        #expect(gate.reach == 23)
        for byte in Array("=>:|?,".utf8) { #expect(gate.first.contains(byte), "\(UnicodeScalar(byte))") }
        for byte in Array("aZ_0 '\"(.-\t".utf8) { #expect(!gate.first.contains(byte), "\(UnicodeScalar(byte))") }
        #expect(gate.first.contains(0x80) && gate.first.contains(0xff) && !gate.run.contains(0xc3))
        // The table the scan reads holds the same sets.
        let table = gate.table
        #expect(table[Int(UInt8(ascii: "="))] == AnchorGate.inFirst | AnchorGate.inValue && table[0xc3] == AnchorGate.inFirst)
        #expect(table[Int(UInt8(ascii: "a"))] == AnchorGate.inRun | AnchorGate.inValue && table[Int(UInt8(ascii: " "))] == AnchorGate.inRun)
        for byte in Array("aZ_09 \t.-'\"\n\r".utf8) + [0x0b, 0x0c] { #expect(gate.run.contains(byte), "\(byte)") }
        for byte in Array("=()[]{}/+;`".utf8) { #expect(!gate.run.contains(byte), "\(UnicodeScalar(byte))") }
        // Then the operator (1 to 4 bytes: `:::=`), [\x60'"\s=]{0,5}, and 16 of [\w.=~+/-].
        let value = gate.value
        #expect(value.count == 16 && value.skip == 1 && value.window == 9)
        for byte in Array("aZ09_.=~+/-".utf8) { #expect(value.bytes.contains(byte), "\(UnicodeScalar(byte))") }
        for byte in Array(" '\"`;,:(".utf8) { #expect(!value.bytes.contains(byte), "\(UnicodeScalar(byte))") }
    }

    /// The value stage at its edges: the longest operator and the full run of quotes before a
    /// 16-character value is found; a 15-character value, or one a quote further, is not.
    @Test func theValueAtTheEdgeOfItsWindow() async throws {
        // CPU- and disk-heavy: on a thread of its own, not one of the few pool threads.
        try await onOwnThread {
            let rules = try RuleSet.defaults()
            let sixteen = "Zq8vLm2pR7tW4xK9"
            let cases: [(String, Int)] = [
                ("pwd:::=`'\"  \(sixteen)\n", 1),
                ("pwd:::=`'\"   \(sixteen)\n", 0),
                ("pwd:::=`'\"  \(sixteen.dropLast())\n", 0),
                ("pwd =\(sixteen)", 1),
                ("pwd =\(sixteen.dropLast())", 0),
                ("secret ?= \"\(sixteen)é\"\n", 0),
                ("secret ?= \"é\(sixteen)\"\n", 0),
            ]
            for (text, expected) in cases {
                let (fast, portable) = try Self.agree(rules, Array(text.utf8))
                #expect(fast == portable, "\(text)")
                #expect(fast.count == expected, "\(text): \(fast)")
            }
        }
    }

    @Test(arguments: [
        "(?i)(?:key)\\s*=",  // unbounded run: the reach would not hold
        "(?i)(?:key)[ ]{0,3}(?<=y   )=",  // the mandatory item looks behind itself
        "(?i)(?:key)[ ]{0,3}\\b=",  // an anchor between run and operator
        "(?i)(?:key)[ ]{0,3}",  // nothing mandatory after the runs
        "(?i)(?:key)(?:ab){0,3}=",  // a run of more than one character per repetition
        "(?i)(?:key)[ ]{0,3}(?:=|$)",  // the mandatory item can match empty at an end
        "(?i)(?:key)[ ]{0,3}=|x",  // a top-level alternative
        "(?i)(?:key)[ ]{0,3}\\1",  // a back reference
    ])
    func shapesTheGateDoesNotUnderstandGetNone(pattern: String) {
        #expect(AnchorGate.derive(from: pattern) == nil)
    }

    @Test func itemsSplitAtTheTopLevelOnly() throws {
        let parsed = try #require(RegexItems.split(#"(?i)(?:a|b)(?:[ \t\w.-]{0,20})[\s'"]{0,3}(?:=|:{1,3}=)[\x60'"]{0,5}?([\w.=~+/-]{16,150})\]"#))
        #expect(parsed.flags == "(?i)")
        #expect(parsed.items.map(\.body) == ["(?:a|b)", #"(?:[ \t\w.-]{0,20})"#, #"[\s'"]"#, "(?:=|:{1,3}=)", #"[\x60'"]"#, #"([\w.=~+/-]{16,150})"#, #"\]"#])
        #expect(parsed.items[1].unwrapped == .init(body: #"[ \t\w.-]"#, min: 0, max: 20))
        #expect(parsed.items[4].max == 5 && parsed.items[4].min == 0)
        #expect(RegexItems.split("(?:a)[b") == nil)
        #expect(RegexItems.split("(?:a)x{2,1}") == nil)
        #expect(RegexItems.split("(?:a)[]x]{0,2}=")?.items.map(\.body) == ["(?:a)", "[]x]", "="])
    }

    /// Both paths over the same bytes: findings by rule, line and column.
    static func agree(_ rules: RuleSet, _ text: [UInt8]) throws -> (fast: [String], portable: [String]) {
        let fast = try SecretScanner(rules)
        let portable = try SecretScanner(rules, useHyperscan: false)
        #expect(fast.usesHyperscan && fast.anchorTable.contains { $0.gate != nil })
        let a = fast.scan(text, path: "f.txt").map { "\($0.ruleID):\($0.line ?? 0):\($0.column ?? 0)" }.sorted()
        let b = portable.scan(text, path: "f.txt").map { "\($0.ruleID):\($0.line ?? 0):\($0.column ?? 0)" }.sorted()
        return (a, b)
    }

    /// The operator exactly at the gate's reach (20 name characters, then 3 quotes/blanks) is
    /// found; one further it is not, by either path; a key name that ends the file is harmless.
    @Test func theOperatorAtTheEdgeOfReach() async throws {
        // CPU- and disk-heavy: on a thread of its own, not one of the few pool threads.
        try await onOwnThread {
            let rules = try RuleSet.defaults()
            let value = "Zq8vLm2pR7tW4xK9sB3n"
            let inReach = "api" + String(repeating: "x", count: 20) + " \"'" + "= " + value + "\n"
            let pastReach = "api" + String(repeating: "x", count: 21) + " \"'" + "= " + value + "\n"
            for (text, expected) in [(inReach, 1), (pastReach, 0), ("api_key", 0), ("x = 1\ntoken", 0), ("pwd " + "\t" + "=", 0)] {
                let (fast, portable) = try Self.agree(rules, Array(text.utf8))
                #expect(fast == portable)
                #expect(fast.count == expected, "\(text): \(fast)")
            }
        }
    }

    /// A rule whose operator may sit far from its key name (a 200-character run) keeps that
    /// reach: the gate is bounded by the regex, not by a guess.
    @Test func aFarOperatorIsStillFoundWhenTheRuleAllowsIt() throws {
        let rules = RuleSet(rules: [SecretRule(id: "far", regex: #"(?i)(?:passphrase|key)[\w ]{0,200}(?:=|:)\s*([A-Za-z0-9]{16,})"#)])
        let far = "key" + String(repeating: "ab ", count: 60) + "=Zq8vLm2pR7tW4xK9sB3n\n"
        let tooFar = "key" + String(repeating: "ab ", count: 67) + "=Zq8vLm2pR7tW4xK9sB3n\n"
        let (fast, portable) = try Self.agree(rules, Array((far + tooFar).utf8))
        #expect(fast == portable)
        #expect(fast == ["far:1:185"])  // the column of the value
    }

    /// Dense random text built from key names, operators, run characters, quotes, line breaks,
    /// vertical tabs, non-ASCII letters and values: the gated path finds exactly what the
    /// portable path finds, for the default rules and for rules of other shapes.
    @Test(arguments: 0..<3)
    func gatedAndPortablePathsAgreeOnDenseRandomText(seed: Int) async throws {
        // CPU- and disk-heavy: on a thread of its own, not one of the few pool threads.
        try await onOwnThread {
            var rng = SplitMix(seed: UInt64(seed) &+ 0x5eed)
            let pieces = [
                "api", "KEY", "token", "Secret", "passwd", "password", "auth", "access", "creds", "pwd", "credential",
                "=", "=>", ":", "::=", ":=", "||", "?=", ",", ">", " ", "\t", "\u{0B}", "\n", "\r\n", "'", "\"", "`", "_", ".", "-",
                "é", "ß", "x", "(", ")", ";", "\\n", "Zq8vLm2pR7tW4xK9sB3n", "A1b2C3d4E5f6G7h8", "/tmp/p", "0123456789abcdef0",
            ]
            let custom = RuleSet(rules: [
                SecretRule(id: "near", regex: #"(?i)(?:key|token)[ _]{0,2}[=:]\s{0,2}([A-Za-z0-9]{12,})"#),
                SecretRule(id: "words", regex: #"(?:api|auth)(?:[\w ]{0,8})?(?:=>|:=)"#),
                SecretRule(id: "class-first", regex: #"(?i)(?:secret|pwd)[\s'"]{0,4}[=:,][^\n]{4,}"#),
            ])
            for (rules, name) in [(try RuleSet.defaults(), "default"), (custom, "custom")] {
                var text = ""
                for _ in 0..<6000 { text += pieces[Int(rng.next() % UInt64(pieces.count))] }
                let (fast, portable) = try Self.agree(rules, Array(text.utf8))
                #expect(fast.count > 20, "\(name)")
                #expect(
                    fast == portable,
                    "\(name): only fast \(Set(fast).subtracting(portable).sorted().prefix(5)), only portable \(Set(portable).subtracting(fast).sorted().prefix(5))"
                )
            }
        }
    }
}
