import CordonTOML
import Testing

/// Valid TOML 1.0 documents of every kind decode to the values the spec gives them.
@Suite struct TOMLDocumentTests {
    func parse(_ text: String) throws -> TOMLTable { try TOMLDocument.parse(text) }

    @Test func keysBareQuotedAndDotted() throws {
        let t = try parse(
            """
            # a comment
            key = "value"   # trailing comment
            bare_key-1 = 1
            1234 = "digits"
            "127.0.0.1" = "quoted"
            "ʎǝʞ" = "unicode"
            'quoted "literal"' = 2
            "" = "empty key"
            site."google.com" = true
            fruit . color = "yellow"
            fruit.flavor = "banana"
            3.14159 = "pi"
            """)
        #expect(t["key"] == .string("value"))
        #expect(t["bare_key-1"] == .integer(1))
        #expect(t["1234"] == .string("digits"))
        #expect(t["127.0.0.1"] == .string("quoted"))
        #expect(t["ʎǝʞ"] == .string("unicode"))
        #expect(t["quoted \"literal\""] == .integer(2))
        #expect(t[""] == .string("empty key"))
        #expect(t["site"]?.table?["google.com"] == .bool(true))
        #expect(t["fruit"]?.table == TOMLTable([("color", .string("yellow")), ("flavor", .string("banana"))]))
        #expect(t["3"]?.table?["14159"] == .string("pi"))
        #expect(t.keys == ["key", "bare_key-1", "1234", "127.0.0.1", "ʎǝʞ", "quoted \"literal\"", "", "site", "fruit", "3"])
    }

    @Test func basicStringEscapes() throws {
        let t = try parse(#"s = "a\b\t\n\f\r\"\\\u00e9\U0001F600 end""#)
        #expect(t["s"] == .string("a\u{8}\t\n\u{C}\r\"\\é😀 end"))
    }

    @Test func multilineBasicStrings() throws {
        let t = try parse(
            "a = \"\"\"\nRoses are red\r\nViolets are blue\"\"\"\n" + "b = \"\"\"\nThe quick brown \\\n\n\n  fox jumps \\   \n   over.\"\"\"\n"
                + "c = \"\"\"Here are two quotation marks: \"\". Simple enough.\"\"\"\n"
                + "d = \"\"\"\"This,\" she said, \"is just a pointless statement.\"\"\"\"\n"
                + "e = \"\"\"\"\"\"\n" + "f = \"\"\"tab\there \\u0041\"\"\"\n")
        #expect(t["a"] == .string("Roses are red\nViolets are blue"))
        #expect(t["b"] == .string("The quick brown fox jumps over."))
        #expect(t["c"] == .string("Here are two quotation marks: \"\". Simple enough."))
        #expect(t["d"] == .string("\"This,\" she said, \"is just a pointless statement.\""))
        #expect(t["e"] == .string(""))
        #expect(t["f"] == .string("tab\there A"))
    }

    @Test func literalStrings() throws {
        let t = try parse(
            "winpath = 'C:\\Users\\nodejs\\templates'\nquoted = 'Tom \"Dubs\" Preston-Werner'\n" + "regex = '''I [dw]on't need \\d{2} apples'''\n"
                + "lines = '''\nThe first newline is\ntrimmed in raw strings.\n'''\n"
                + "quotes = '''Here are fifteen quotation marks: \"\"\"\"\"\"\"\"\"\"\"\"\"\"\"'''\n"
                + "apos = ''''That,' she said, 'is still pointless.''''\n")
        #expect(t["winpath"] == .string("C:\\Users\\nodejs\\templates"))
        #expect(t["quoted"] == .string("Tom \"Dubs\" Preston-Werner"))
        #expect(t["regex"] == .string("I [dw]on't need \\d{2} apples"))
        #expect(t["lines"] == .string("The first newline is\ntrimmed in raw strings.\n"))
        #expect(t["quotes"] == .string("Here are fifteen quotation marks: \"\"\"\"\"\"\"\"\"\"\"\"\"\"\""))
        #expect(t["apos"] == .string("'That,' she said, 'is still pointless.'"))
    }

    @Test func integers() throws {
        let t = try parse(
            """
            a = +99
            b = 42
            c = 0
            d = -17
            e = 1_000
            f = 5_349_221
            g = 1_2_3_4_5
            h = 0xDEADBEEF
            i = 0xdead_beef
            j = 0o01234567
            k = 0o755
            l = 0b11010110
            m = 9223372036854775807
            n = -9223372036854775808
            o = +0
            p = -0
            q = 0x7FFFFFFFFFFFFFFF
            """)
        let expected: [(String, Int64)] = [
            ("a", 99), ("b", 42), ("c", 0), ("d", -17), ("e", 1000), ("f", 5_349_221), ("g", 12345), ("h", 0xDEAD_BEEF), ("i", 0xDEAD_BEEF),
            ("j", 0o01234567), ("k", 0o755), ("l", 0b11010110), ("m", .max), ("n", .min), ("o", 0), ("p", 0), ("q", .max),
        ]
        for (key, value) in expected { #expect(t[key] == .integer(value), "\(key)") }
    }

    @Test func floats() throws {
        let t = try parse(
            """
            a = +1.0
            b = 3.1415
            c = -0.01
            d = 5e+22
            e = 1e06
            f = -2E-2
            g = 6.626e-34
            h = 224_617.445_991_228
            i = inf
            j = +inf
            k = -inf
            l = nan
            m = +nan
            n = -nan
            o = 0.0
            p = -0.0
            q = 0e0
            r = 1e-400
            """)
        let expected: [(String, Double)] = [
            ("a", 1), ("b", 3.1415), ("c", -0.01), ("d", 5e22), ("e", 1e6), ("f", -2e-2), ("g", 6.626e-34), ("h", 224_617.445_991_228),
            ("i", .infinity), ("j", .infinity), ("k", -.infinity), ("o", 0), ("p", 0), ("q", 0), ("r", 0),
        ]
        for (key, value) in expected { #expect(t[key] == .float(value), "\(key)") }
        for key in ["l", "m", "n"] { #expect(t[key]?.float?.isNaN == true, "\(key)") }
        #expect(t["p"]?.float?.sign == .minus)
    }

    @Test func booleans() throws {
        let t = try parse("t = true\nf = false\n")
        #expect(t["t"] == .bool(true))
        #expect(t["f"] == .bool(false))
    }

    @Test func datesAndTimes() throws {
        let t = try parse(
            """
            odt1 = 1979-05-27T07:32:00Z
            odt2 = 1979-05-27T00:32:00-07:00
            odt3 = 1979-05-27T00:32:00.999999+05:30
            odt4 = 1979-05-27 07:32:00z
            ldt1 = 1979-05-27T07:32:00
            ldt2 = 1979-05-27t00:32:00.999999
            ld = 1979-05-27
            lt1 = 07:32:00
            lt2 = 00:32:00.5
            leap = 2000-02-29
            second60 = 1990-12-31T23:59:60Z
            list = [1979-05-27 07:32:00, 1979-05-27 ]
            """)
        let odt2 = try #require(t["odt2"]?.dateTime)
        #expect(odt2.kind == .offsetDateTime && odt2.offsetMinutes == -420 && odt2.text == "1979-05-27T00:32:00-07:00")
        #expect(odt2.date == .init(year: 1979, month: 5, day: 27) && odt2.time == .init(hour: 0, minute: 32, second: 0, nanosecond: 0))
        #expect(t["odt3"]?.dateTime?.time?.nanosecond == 999_999_000)
        #expect(t["odt3"]?.dateTime?.offsetMinutes == 330)
        #expect(t["odt4"]?.dateTime?.kind == .offsetDateTime)
        #expect(t["odt4"]?.dateTime?.text == "1979-05-27 07:32:00z")
        #expect(t["ldt1"]?.dateTime?.kind == .localDateTime)
        #expect(t["ldt2"]?.dateTime?.kind == .localDateTime)
        #expect(t["ld"]?.dateTime?.kind == .localDate)
        #expect(t["lt1"]?.dateTime?.kind == .localTime)
        #expect(t["lt2"]?.dateTime?.time?.nanosecond == 500_000_000)
        #expect(t["leap"]?.dateTime?.date?.day == 29)
        #expect(t["second60"]?.dateTime?.time?.second == 60)
        #expect(t["list"]?.array?.map { $0.dateTime?.kind } == [.localDateTime, .localDate])
    }

    @Test func arrays() throws {
        let t = try parse(
            """
            integers = [ 1, 2, 3 ]
            nested_mixed_array = [ [ 1, 2 ], ["a", "b", "c"] ]
            mixed = [ 0.1, 0.2, 0.5, 1, 2, 5, "x", {a = 1} ]
            multi = [
              1, # one
              2, # two
              # nothing
            ]
            empty = [ ]
            trailing = [1,]
            """)
        #expect(t["integers"] == .array([.integer(1), .integer(2), .integer(3)]))
        #expect(t["nested_mixed_array"] == .array([.array([.integer(1), .integer(2)]), .array([.string("a"), .string("b"), .string("c")])]))
        #expect(t["mixed"]?.array?.count == 8)
        #expect(t["mixed"]?.array?.last == .table(TOMLTable([("a", .integer(1))])))
        #expect(t["multi"] == .array([.integer(1), .integer(2)]))
        #expect(t["empty"] == .array([]))
        #expect(t["trailing"] == .array([.integer(1)]))
    }

    @Test func inlineTables() throws {
        let t = try parse(
            """
            name = { first = "Tom", last = "Preston-Werner" }
            point = {x=1,y=2}
            animal = { type.name = "pug" }
            empty = {}
            nested = { a = { b = [1,
              2] } }
            """)
        #expect(t["name"] == .table(TOMLTable([("first", .string("Tom")), ("last", .string("Preston-Werner"))])))
        #expect(t["point"]?.table?.keys == ["x", "y"])
        #expect(t["animal"]?.table?["type"]?.table?["name"] == .string("pug"))
        #expect(t["empty"] == .table(TOMLTable()))
        #expect(t["nested"]?.table?["a"]?.table?["b"] == .array([.integer(1), .integer(2)]))
    }

    @Test func tablesAndArraysOfTables() throws {
        let t = try parse(
            """
            [table-1]
            key1 = "some string"
            [ dog . "tater.man" ]
            type.name = "pug"
            [x.y.z.w]
            [x]
            a = 1
            [fruit]
            apple.color = "red"
            apple.taste.sweet = true
            [fruit.apple.texture]
            smooth = true
            [[products]]
            name = "Hammer"
            [[products]]
            [[products]]
            name = "Nail"
            [[fruits]]
            name = "apple"
            [fruits.physical]
            color = "red"
            [[fruits.varieties]]
            name = "red delicious"
            [[fruits.varieties]]
            name = "granny smith"
            [[fruits]]
            name = "banana"
            [[fruits.varieties]]
            name = "plantain"
            """)
        #expect(t["table-1"]?.table?["key1"] == .string("some string"))
        #expect(t["dog"]?.table?["tater.man"]?.table?["type"]?.table?["name"] == .string("pug"))
        #expect(t["x"]?.table?["a"] == .integer(1))
        #expect(t["x"]?.table?["y"]?.table?["z"]?.table?["w"] == .table(TOMLTable()))
        #expect(t["fruit"]?.table?["apple"]?.table?["texture"]?.table?["smooth"] == .bool(true))
        #expect(t["products"]?.array?.count == 3)
        #expect(t["products"]?.array?[1] == .table(TOMLTable()))
        let fruits = try #require(t["fruits"]?.array)
        #expect(fruits.count == 2)
        #expect(fruits[0].table?["physical"]?.table?["color"] == .string("red"))
        #expect(fruits[0].table?["varieties"]?.array?.count == 2)
        #expect(fruits[1].table?["varieties"]?.array?.first?.table?["name"] == .string("plantain"))
    }

    @Test func lineEndsCommentsAndByteOrderMark() throws {
        let t = try TOMLDocument.parse([0xEF, 0xBB, 0xBF] + Array("a = 1\r\n# é comment\twith tab\r\n[b]\r\nc = 'x'".utf8))
        #expect(t["a"] == .integer(1))
        #expect(t["b"]?.table?["c"] == .string("x"))
        #expect(try parse("").isEmpty)
        #expect(try parse("\n\n# only a comment").isEmpty)
    }

    @Test func nestingUpToTheLimitIsAccepted() throws {
        let depth = TOMLDocument.maxDepth
        let t = try parse("a = " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth))
        var value = try #require(t["a"])
        var levels = 0
        while let inner = value.array {
            levels += 1
            guard let next = inner.first else { break }
            value = next
        }
        #expect(levels == depth)
    }
}
