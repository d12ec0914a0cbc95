import CordonCore
import CordonTestSupport
import Foundation
import Testing

/// `sandbox.json` is written and read by hand (no Foundation encoder or decoder in the
/// supervisor's start): the hand-written text must be valid JSON that Foundation reads to the same
/// value, and the hand reader must agree with Foundation's on every value.
struct SandboxRecordTests {
    static let awkward = "/home/a \"quoted\"/wörk\\space\n\t\u{1}/😀/\u{7f}"

    @Test func theHandWrittenRecordReadsBackToTheSameValueEitherWay() throws {
        var record = SandboxRecord(
            name: "box-1", profile: "builtin:default", mode: "secure", workspace: Self.awkward,
            overlayMounts: [.init(host: "/srv/data", sandbox: "/data", upper: "/state/mounts/0/upper")], created: "2026-11-23T10:00:00Z")
        for lastStarted in [nil, "2026-11-23T11:00:00Z"] {
            record.lastStarted = lastStarted
            #expect(try JSONDecoder().decode(SandboxRecord.self, from: Data(record.jsonText.utf8)) == record)
            #expect(try SandboxRecord(json: JSONValue.parse(Array(record.jsonText.utf8))) == record)
        }
        record.overlayMounts = []
        #expect(try JSONDecoder().decode(SandboxRecord.self, from: Data(record.jsonText.utf8)) == record)
        #expect(try SandboxRecord(json: JSONValue.parse(Array(record.jsonText.utf8))) == record)
    }

    @Test func aRecordWrittenByFoundationLoadsFromDisk() throws {
        let scratch = try TempTree(prefix: "cordon-record")
        let directory = scratch.root
        let layout = SandboxLayout(directory: directory)
        let record = SandboxRecord(name: "n", profile: "p", mode: "yolo", workspace: Self.awkward, created: "2026-01-01T00:00:00Z", lastStarted: nil)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .withoutEscapingSlashes]
        try encoder.encode(record).write(to: URL(fileURLWithPath: layout.record))
        #expect(try layout.loadRecord() == record)

        try Data("{\"name\": \"n\"}".utf8).write(to: URL(fileURLWithPath: layout.record))
        let missingField = #expect(throws: CordonError.self) { try layout.loadRecord() }
        #expect(missingField?.description.contains("\"profile\"") == true)
        #expect(throws: CordonError.self) { try SandboxLayout(directory: directory + "/absent").loadRecord() }
    }

    @Test func theReaderAgreesWithFoundationOnValidJSON() throws {
        let documents = [
            #"{"a": [1, -2, 3.5, -0.25e-3, 1E+2, 0, true, false, null, "x\/y\b\f\n\r\t\"\\"], "b": {}, "c": [], "d": {"e": [[[]]]}}"#,
            #"  "\u00e9\u4e2d\ud83d\ude00\u0000"  "#,
            #"[9223372036854775807, -9223372036854775808, 9223372036854775808, 1.7976931348623157e308]"#,
        ]
        for document in documents {
            let mine = try JSONValue.parse(Array(document.utf8))
            let theirs = try JSONSerialization.jsonObject(with: Data(document.utf8), options: [.fragmentsAllowed])
            #expect(Self.same(mine, theirs), "\(document)")
        }
        #expect(try JSONValue.parse(Array(#""\ud83d\ude00""#.utf8)) == .string("😀"))
        #expect(try JSONValue.parse(Array("[9223372036854775807]".utf8)) == .array([.int(Int.max)]))
        #expect(try JSONValue.parse(Array("9223372036854775808".utf8)) == .double(9223372036854775808))
    }

    @Test(arguments: [
        ("", "unexpected end"), ("{", "expected a string key"), ("{\"a\":1,}", "expected a string key"), ("[1,]", "unexpected character"),
        ("[1 2]", "expected ','"), ("01", "leading zero"), ("-", "invalid number"), ("1.", "invalid number"), ("1e", "invalid number"),
        ("\"a", "unterminated"), ("\"\u{1}\"", "control character"), ("\"\\x\"", "invalid escape"), ("\"\\u12zz\"", "invalid \\u escape"),
        ("\"\\ud800\"", "unpaired surrogate"), ("\"\\udc00\"", "unpaired surrogate"), ("tru", "unexpected end"), ("nul1", "invalid literal"),
        ("{\"a\":1,\"a\":2}", "duplicate key"), ("1 2", "after the JSON value"), ("1e400", "out of range"), ("'a'", "unexpected character"),
    ])
    func invalidJSONIsRefusedWithItsPlace(document: String, reason: String) {
        let error = #expect(throws: JSONParseError.self) { try JSONValue.parse(Array(document.utf8)) }
        #expect(error?.reason.contains(reason) == true, "\(document): \(String(describing: error))")
    }

    @Test func invalidUTF8AndDeepNestingAreRefused() {
        #expect(throws: JSONParseError.self) { try JSONValue.parse([0x22, 0xC3, 0x28, 0x22]) }
        let deep = String(repeating: "[", count: JSONValue.maximumDepth + 1) + String(repeating: "]", count: JSONValue.maximumDepth + 1)
        let error = #expect(throws: JSONParseError.self) { try JSONValue.parse(Array(deep.utf8)) }
        #expect(error?.reason == "nested too deeply")
        let fine = String(repeating: "[", count: JSONValue.maximumDepth) + String(repeating: "]", count: JSONValue.maximumDepth)
        #expect(throws: Never.self) { try JSONValue.parse(Array(fine.utf8)) }
    }

    /// Compares the reader's value with JSONSerialization's.
    static func same(_ mine: JSONValue, _ theirs: Any) -> Bool {
        switch mine {
        case .string(let s): return (theirs as? String) == s
        case .int(let i): return (theirs as? NSNumber)?.int64Value == Int64(i)
        case .double(let d): return (theirs as? NSNumber)?.doubleValue == d
        case .bool(let b): return (theirs as? Bool) == b
        case .null: return theirs is NSNull
        case .array(let items):
            guard let other = theirs as? [Any], other.count == items.count else { return false }
            return zip(items, other).allSatisfy { same($0, $1) }
        case .object(let pairs):
            guard let other = theirs as? [String: Any], other.count == pairs.count else { return false }
            return pairs.allSatisfy { key, value in other[key].map { same(value, $0) } ?? false }
        }
    }

    /// Log times: RFC 3339 in UTC with milliseconds, the time it is now (Foundation reads it back).
    @Test func logTimesAreRFC3339InUTCNow() throws {
        let before = Date()
        let text = WallClock.rfc3339()
        #expect(text.utf8.count == 24)
        #expect(text.wholeMatch(of: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/) != nil, "\(text)")
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let parsed = try #require(formatter.date(from: text))
        #expect(parsed.timeIntervalSince(before) > -0.002 && parsed.timeIntervalSince(before) < 2, "\(text)")
    }
}
