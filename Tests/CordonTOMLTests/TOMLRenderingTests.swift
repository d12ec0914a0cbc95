import CordonTOML
import Testing

/// The canonical rendering compares documents (HostTraps), the TOML rendering writes one back
/// (the fuzz target's invariant): both deterministic, the second parsing to an equal table.
@Suite struct TOMLRenderingTests {
    static let documents = [
        "b = 1\na = \"x\\u0001\\\"\\\\\\n\"\n[c]\nd = [1.5, -0.0, inf, -inf, nan, 1e-7, 5e+22]\n",
        "[[a.b]]\nx = 1979-05-27 07:32:00Z\n[[a.b]]\ny = 07:32:00.25\n[a.c]\nz = 1979-05-27\n",
        "\"\" = 'empty key'\n\"a.b\" = { \"c d\" = [[], [{}], true, false] }\n\"é\" = '''\nmulti\r\nline'''\n",
        "t.u.v = 9223372036854775807\nt.w = -9223372036854775808\n[x.y]\n[x]\nz = 0x7F\n",
        "a = " + String(repeating: "[", count: 127) + String(repeating: "]", count: 127) + "\n",
        String(repeating: "[", count: 1) + Array(repeating: "k", count: 120).joined(separator: ".") + "]\nv = 1\n",
    ]

    @Test(arguments: documents) func aTableWrittenBackParsesToItself(_ text: String) throws {
        let table = try TOMLDocument.parse(text)
        let again = try TOMLDocument.parse(table.tomlText)
        #expect(again == table, "\(table.tomlText)")
        #expect(again.canonical == table.canonical)
        #expect(again.tomlText == table.tomlText)
    }

    @Test func canonicalSortsKeysAndEscapes() throws {
        let table = try TOMLDocument.parse("b = 'x\"y'\na = { d = 1, c = [1.0, 2] }\n\"\\u0007\" = 1979-05-27\n")
        #expect(table.canonical == #"{"\u0007":1979-05-27,"a":{"c":[1.0,2],"d":1},"b":"x\"y"}"#)
        #expect(table.keys == ["b", "a", "\u{7}"])
    }

    @Test func orderDoesNotMakeTablesDifferent() throws {
        let one = try TOMLDocument.parse("a = 1\nb = 2\n")
        let two = try TOMLDocument.parse("b = 2\na = 1\n")
        #expect(one == two && one.canonical == two.canonical)
        #expect(try TOMLDocument.parse("a = nan") == TOMLDocument.parse("a = -nan"))
        #expect(try TOMLDocument.parse("a = 1") != TOMLDocument.parse("a = 1.0"))
        #expect(try TOMLDocument.parse("a = 1").canonical != TOMLDocument.parse("a = 1.0").canonical)
    }
}
