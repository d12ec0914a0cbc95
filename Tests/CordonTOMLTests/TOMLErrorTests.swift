import CordonTOML
import Testing

/// Invalid documents are a `TOMLError` at the right line and column, with a message naming
/// what is wrong; none crashes.
@Suite struct TOMLErrorTests {
    struct Case: CustomStringConvertible, Sendable {
        let input: String
        let line: Int
        let column: Int
        let says: String
        init(_ input: String, _ line: Int, _ column: Int, _ says: String) {
            self.input = input
            self.line = line
            self.column = column
            self.says = says
        }
        var description: String { input.debugDescription }
    }

    static let redefinitions: [Case] = [
        Case("a = 1\na = 2", 2, 1, "defined twice"),
        Case("a = 1\n\"a\" = 2", 2, 1, "defined twice"),
        Case("a = 1\n'a' = 2", 2, 1, "defined twice"),
        Case("[a]\nb = 1\n[a]\nc = 2", 3, 1, "defined twice"),
        Case("[a]\n[a]", 2, 1, "defined twice"),
        Case("[a.b]\n[a]\n[a.b]", 3, 1, "defined twice"),
        Case("[a]\nb = 1\n[a.b]", 3, 1, "already defined as an integer"),
        Case("a.b = 1\n[a]", 2, 1, "already defined by dotted keys"),
        Case("[fruit]\napple.color = 'red'\n[fruit.apple]", 3, 1, "already defined by dotted keys"),
        Case("[fruit]\napple.taste.sweet = true\n[fruit.apple.taste]", 3, 1, "already defined by dotted keys"),
        Case("[a.b.c]\nz = 9\n[a]\nb.c.t = 1", 4, 3, "already defined by a header"),
        Case("[a.b]\nx = 1\n[a]\nb.y = 2", 4, 1, "already defined by a header"),
        Case("a = {b = 1}\n[a]", 2, 1, "already defined as an inline table"),
        Case("a = {b = 1}\n[a.c]", 2, 2, "already defined as an inline table"),
        Case("a = {b = 1}\na.c = 2", 2, 1, "already defined as an inline table"),
        Case("a = {b = {c = 1}}\na.b.d = 2", 2, 1, "already defined as an inline table"),
        Case("a = {b = 1, b = 2}", 1, 13, "defined twice"),
        Case("a = {b.c = 1, b = 2}", 1, 15, "already a table"),
        Case("a = [1]\n[[a]]", 2, 1, "already defined as an array"),
        Case("a = []\n[a.b]", 2, 2, "already defined as an array"),
        Case("[a]\n[[a]]", 2, 1, "already a table"),
        Case("[[a]]\n[a]", 2, 1, "already an array of tables"),
        Case("[[a]]\nb = 1\n[a]\nc = 1", 3, 1, "already an array of tables"),
        Case("[[tab.arr]]\n[tab]\narr.val1 = 1", 3, 1, "array of tables"),
        Case("[a.b]\n[a]\nb = 1", 3, 1, "already a table"),
        Case("a.b = 1\na.b.c = 2", 2, 3, "already defined as an integer"),
        Case("a.b = 1\na = 2", 2, 1, "already a table"),
        Case("[t]\nx.y = 1\n[t.x]", 3, 1, "already defined by dotted keys"),
    ]

    static let literals: [Case] = [
        Case("a = \"\\q\"", 1, 6, "not a valid escape"),
        Case("a = \"\\e\"", 1, 6, "not a valid escape"),
        Case("a = \"\\x41\"", 1, 6, "not a valid escape"),
        Case("a = \"\\u00\"", 1, 6, "exactly 4 hexadecimal"),
        Case("a = \"\\uD800\"", 1, 6, "surrogates"),
        Case("a = \"\\U00110000\"", 1, 6, "surrogates"),
        Case("a = \"\"\"\\ x\"\"\"", 1, 8, "not a valid escape"),
        Case("a = 01", 1, 5, "leading zeros"),
        Case("a = -01", 1, 5, "leading zeros"),
        Case("a = 00.5", 1, 5, "leading zeros"),
        Case("a = 1__2", 1, 5, "underscore"),
        Case("a = _1", 1, 5, "expected a value"),
        Case("a = 1_", 1, 5, "underscore"),
        Case("a = 0x_1", 1, 5, "underscore"),
        Case("a = +0x1", 1, 5, "sign is not allowed"),
        Case("a = 0xG", 1, 5, "hexadecimal"),
        Case("a = 0o8", 1, 5, "octal"),
        Case("a = 0b2", 1, 5, "binary"),
        Case("a = 9223372036854775808", 1, 5, "out of range"),
        Case("a = -9223372036854775809", 1, 5, "out of range"),
        Case("a = 0x8000000000000000", 1, 5, "out of range"),
        Case("a = 1.", 1, 5, "digits after"),
        Case("a = .5", 1, 5, "expected a value"),
        Case("a = 1.e5", 1, 5, "digits after"),
        Case("a = 1e", 1, 5, "exponent"),
        Case("a = 1e_5", 1, 5, "underscore"),
        Case("a = 1.5_", 1, 5, "underscore"),
        Case("a = 1e400", 1, 5, "out of range"),
        Case("a = infinity", 1, 5, "not a valid"),
        Case("a = NaN", 1, 5, "expected a value"),
        Case("a = True", 1, 5, "expected a value"),
        Case("a = truex", 1, 5, "not a valid"),
        Case("a = 1979-13-01", 1, 5, "date or time"),
        Case("a = 1979-02-29", 1, 5, "date or time"),
        Case("a = 1979-05-27T24:00:00", 1, 5, "date or time"),
        Case("a = 1979-05-27T07:32", 1, 5, "date or time"),
        Case("a = 07:32:00.", 1, 5, "date or time"),
        Case("a = 1979-05-27T07:32:00+25:00", 1, 5, "date or time"),
        Case("a = 1979-5-27", 1, 5, "date or time"),
        Case("a = 1979-05-27T07:32:00Zx", 1, 5, "date or time"),
    ]

    static let structure: [Case] = [
        Case("[ }", 1, 3, "cannot start a key"),
        Case("x =[ }", 1, 6, "expected a value"),
        Case("[extend]\nusfault = true\ndisabledRules =[ }\0\0ric-a", 3, 18, "expected a value"),
        Case("a = \"abc", 1, 9, "not closed"),
        Case("a = \"abc\nb = 1", 1, 9, "not closed on its line"),
        Case("a = 'abc", 1, 9, "not closed"),
        Case("a = \"\"\"abc", 1, 11, "opened at line 1, column 5 is not closed"),
        Case("a = '''abc\n", 2, 1, "not closed"),
        Case("a = [1, 2", 1, 10, "array opened at line 1, column 5 is not closed"),
        Case("a = [1 2]", 1, 8, "expected ',' or ']'"),
        Case("a = [1,,2]", 1, 8, "expected a value"),
        Case("a = [,]", 1, 6, "expected a value"),
        Case("a = {b = 1,\nc = 2}", 1, 12, "end on the line"),
        Case("a = {\nb = 1}", 1, 6, "end on the line"),
        Case("a = {b = 1 # c\n}", 1, 12, "end on the line"),
        Case("a = {b = 1,}", 1, 12, "trailing comma"),
        Case("a = {b = 1", 1, 11, "inline table opened"),
        Case("a = {b = 1 c = 2}", 1, 12, "expected ',' or '}'"),
        Case("a = 1\rb = 2", 1, 6, "carriage return"),
        Case("a = \"x\rb\"", 1, 7, "not closed on its line"),
        Case("a = \"\"\"x\ry\"\"\"", 1, 9, "carriage return"),
        Case("# comment\r", 1, 10, "carriage return"),
        Case("a = \"a\0b\"", 1, 7, "U+0000 must be escaped"),
        Case("a = 'a\u{1F}b'", 1, 7, "U+001F"),
        Case("a = \"\"\"a\u{7F}\"\"\"", 1, 9, "U+007F"),
        Case("# a \0 nul", 1, 5, "U+0000 is not allowed in a comment"),
        Case("a = 1 b = 2", 1, 7, "end of the line after a value"),
        Case("[a] b = 1", 1, 5, "end of the line after a table header"),
        Case("a", 1, 2, "expected '='"),
        Case("a =", 1, 4, "expected a value, found the end of the file"),
        Case("a = \n", 1, 5, "expected a value"),
        Case("= 1", 1, 1, "cannot start a key"),
        Case("a.= 1", 1, 3, "cannot start a key"),
        Case("a. .b = 1", 1, 4, "cannot start a key"),
        Case("\"\"\"a\"\"\" = 1", 1, 1, "multi-line string cannot be a key"),
        Case("é = 1", 1, 1, "'é', which cannot start a key"),
        Case("[a", 1, 3, "expected ']'"),
        Case("[[a]", 1, 5, "expected ']]'"),
        Case("[ [a]]", 1, 3, "cannot start a key"),
        Case("[[a] ]", 1, 5, "expected ']]'"),
        Case("[]", 1, 2, "cannot start a key"),
        Case("[\u{E9}]", 1, 2, "cannot start a key"),
        Case("[a]]", 1, 4, "end of the line after a table header"),
        Case("a = \"\"\"\"\"\"\"\"\"", 1, 13, "too many quotes"),
        Case("a = 1\nb = {c = 1}\n\n  [x.\u{E9}] \n", 4, 6, "cannot start a key"),
    ]

    func check(_ c: Case) {
        do {
            let table = try TOMLDocument.parse(c.input)
            Issue.record("parsed: \(table.canonical)")
        } catch {
            #expect(error.line == c.line && error.column == c.column, "\(error)")
            #expect(error.message.contains(c.says), "\(error)")
        }
    }

    @Test(arguments: redefinitions) func redefinitionIsAnError(_ c: Case) { check(c) }
    @Test(arguments: literals) func malformedLiteralIsAnError(_ c: Case) { check(c) }
    @Test(arguments: structure) func malformedStructureIsAnError(_ c: Case) { check(c) }

    @Test func invalidUTF8IsAnErrorWithItsPosition() {
        let inputs: [([UInt8], Int, Int)] = [
            (Array("a = \"".utf8) + [0xFF] + Array("\"".utf8), 1, 6),
            (Array("a = 1\n# é ".utf8) + [0xC3], 2, 5),
            (Array("a = '".utf8) + [0xED, 0xA0, 0x80] + Array("'".utf8), 1, 6),
            (Array("a = '".utf8) + [0xC0, 0x80] + Array("'".utf8), 1, 6),
            (Array("a = '".utf8) + [0xF4, 0x90, 0x80, 0x80] + Array("'".utf8), 1, 6),
        ]
        for (bytes, line, column) in inputs {
            do {
                _ = try TOMLDocument.parse(bytes)
                Issue.record("parsed \(bytes)")
            } catch {
                #expect(error.line == line && error.column == column && error.message.contains("not valid UTF-8"), "\(error)")
            }
        }
    }

    /// 100,000 opening brackets (or braces) stop at the depth limit instead of exhausting the stack.
    @Test func deepNestingStopsAtTheLimit() {
        let limit = TOMLDocument.maxDepth
        let inputs = [
            "a = " + String(repeating: "[", count: 100_000),
            "a = " + String(repeating: "{b = ", count: 100_000),
            "a = " + String(repeating: "[{b = ", count: 50_000),
            "[" + Array(repeating: "a", count: 100_000).joined(separator: ".") + "]",
            Array(repeating: "a", count: 100_000).joined(separator: ".") + " = 1",
        ]
        for input in inputs {
            do {
                _ = try TOMLDocument.parse(input)
                Issue.record("parsed \(input.prefix(20))")
            } catch {
                #expect(error.line == 1 && error.message.contains("\(limit)"), "\(error)")
            }
        }
        #expect(throws: TOMLError.self) { try TOMLDocument.parse(String(repeating: "[", count: 100_000)) }
        #expect(throws: TOMLError.self) { try TOMLDocument.parse("a = " + String(repeating: "[", count: limit + 1) + String(repeating: "]", count: limit + 1)) }
        do {
            _ = try TOMLDocument.parse("a = " + String(repeating: "[", count: 100_000))
        } catch {
            #expect(error.column == 5 + limit, "\(error)")
        }
    }
}
