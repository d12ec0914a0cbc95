@testable import CordonCore
import CordonTestSupport
import Testing

/// The strict reader of cordon's own small files: every malformed input is refused with the byte
/// it stopped at, never read in part.
struct JSONParserTests {
    func parse(_ text: String) throws(JSONParseError) -> JSONValue { try JSONValue.parse(Array(text.utf8)) }

    @Test func objectsKeepTheirKeyOrderAndNumbersTheirKind() throws {
        let value = try parse(#" { "b": 1, "a": [true, false, null], "c": -0.5, "d": "x\u00e9\n", "e": 1e2 } "#)
        #expect(value == .object([("b", 1), ("a", .array([true, false, .null])), ("c", .double(-0.5)), ("d", "xé\n"), ("e", .double(100))]))
        #expect(value["a"] == .array([true, false, .null]))
        #expect(value["missing"] == nil)
        #expect(JSONValue.array([])["a"] == nil)
    }

    @Test func aSurrogatePairIsOneScalar() throws {
        #expect(try parse(#""\ud83c\udf89""#) == .string("🎉"))
    }

    @Test(arguments: [
        ("", "unexpected end of input", 0),
        ("   ", "unexpected end of input", 3),
        ("{\"a\":1,\"a\":2}", "duplicate key \"a\"", 7),
        ("01", "leading zero in number", 1),
        ("-", "invalid number", 1),
        ("1.", "invalid number", 2),
        ("1e", "invalid number", 2),
        ("1e400", "number out of range", 0),
        ("tru", "unexpected end of input", 0),
        ("trux", "invalid literal", 0),
        ("[1,]", "unexpected character", 3),
        ("[1 2]", "expected ',' or ']'", 3),
        ("{\"a\" 1}", "expected ':'", 5),
        ("{1:2}", "expected a string key", 1),
        ("\"abc", "unterminated string", 4),
        ("\"a\tb\"", "control character in string", 2),
        ("\"\\x\"", "invalid escape", 2),
        ("\"\\u12g4\"", "invalid \\u escape", 5),
        ("\"\\ud800\"", "unpaired surrogate", 7),
        ("\"\\udc00\"", "unpaired surrogate", 7),
        ("{} {}", "unexpected data after the JSON value", 3),
        ("nul", "unexpected end of input", 0),
        ("@", "unexpected character", 0),
    ])
    func malformedInputIsRefusedWhereItGoesWrong(text: String, reason: String, offset: Int) {
        #expect(throws: JSONParseError(offset: offset, reason: reason)) { try parse(text) }
    }

    @Test func invalidUTF8IsRefused() {
        #expect(throws: JSONParseError.self) { try JSONValue.parse([0x22, 0xC3, 0x28, 0x22]) }
        #expect(throws: JSONParseError.self) { try JSONValue.parse([0x22, 0xED, 0xA0, 0x80, 0x22]) }
    }

    @Test func nestingIsBounded() throws {
        let depth = JSONValue.maximumDepth
        _ = try parse(String(repeating: "[", count: depth) + String(repeating: "]", count: depth))
        #expect(throws: JSONParseError.self) {
            try parse(String(repeating: "[", count: depth + 1) + String(repeating: "]", count: depth + 1))
        }
        #expect(throws: JSONParseError.self) { try parse(String(repeating: "{\"a\":", count: depth + 1) + "1" + String(repeating: "}", count: depth + 1)) }
        // Deep enough to overflow a naive recursive reader's stack: refused, not a crash.
        #expect(throws: JSONParseError.self) { try parse(String(repeating: "[", count: 100_000)) }
    }

    @Test func integersTooLargeForIntBecomeDoubles() throws {
        #expect(try parse("9223372036854775807") == .int(Int.max))
        #expect(try parse("-9223372036854775808") == .int(Int.min))
        #expect(try parse("9223372036854775808") == .double(9_223_372_036_854_775_808))
    }

    /// What the encoder writes, the parser reads back as the same value.
    @Test func encodedValuesParseBackUnchanged() throws {
        var random = SplitMix(seed: 8259)
        func string() -> String {
            let pool: [Unicode.Scalar] = ["a", "\"", "\\", "\n", "\u{0}", "\u{1F}", "é", "🎉", "/", " ", "\u{2028}"]
            return String(
                String.UnicodeScalarView((0..<Int.random(in: 0...6, using: &random)).map { _ in pool[Int.random(in: 0..<pool.count, using: &random)] }))
        }
        func value(_ depth: Int) -> JSONValue {
            switch Int.random(in: 0..<(depth > 3 ? 5 : 7), using: &random) {
            case 0: return .string(string())
            case 1: return .int(Int.random(in: Int.min...Int.max, using: &random))
            case 2: return .bool(Bool.random(using: &random))
            case 3: return .null
            case 4: return .double(Double(Int.random(in: -1000...1000, using: &random)) / 8)
            case 5: return .array((0..<Int.random(in: 0...3, using: &random)).map { _ in value(depth + 1) })
            default:
                var keys: [String] = []
                for index in 0..<Int.random(in: 0...3, using: &random) { keys.append(string() + "\(index)") }
                return .object(keys.map { ($0, value(depth + 1)) })
            }
        }
        for _ in 0..<500 {
            let original = value(0)
            #expect(try JSONValue.parse(Array(original.encoded().utf8)) == original, "\(original.encoded())")
        }
    }
}
