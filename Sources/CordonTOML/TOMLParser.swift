/// The reader behind `TOMLDocument.parse`: one pass over UTF-8 bytes (already validated),
/// tables built with their origins so that every redefinition is caught where it is written.
struct TOMLParser {
    let bytes: [UInt8]
    var i = 0
    let root: TOMLTableBuilder
    /// The table the last header opened; key/value lines go into it.
    var current: TOMLTableBuilder

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        root = TOMLTableBuilder(origin: .header, depth: 0, offset: 0)
        current = root
        // A byte order mark is not content.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }
    }

    mutating func parseDocument() throws(TOMLError) -> TOMLTable {
        while true {
            skipBlanks()
            guard let c = peek() else { break }
            switch c {
            case 0x0A: i += 1
            case 0x0D: try lineEnd()
            case UInt8(ascii: "#"): try skipComment()
            case UInt8(ascii: "["):
                try parseHeader()
                try endOfLine(after: "a table header")
            default:
                try parseKeyValue(into: current)
                try endOfLine(after: "a value")
            }
        }
        return root.build()
    }

    // MARK: Bytes and positions

    func peek(_ ahead: Int = 0) -> UInt8? { i + ahead < bytes.count ? bytes[i + ahead] : nil }

    mutating func skipBlanks() {
        while let c = peek(), c == 0x20 || c == 0x09 { i += 1 }
    }

    /// A line feed, or a carriage return followed by one; a lone carriage return is an error.
    mutating func lineEnd() throws(TOMLError) {
        if peek() == 0x0D {
            guard peek(1) == 0x0A else { throw error("a carriage return (CR) must be followed by a line feed (LF)") }
            i += 2
        } else {
            i += 1
        }
    }

    mutating func skipComment() throws(TOMLError) {
        i += 1
        while let c = peek(), c != 0x0A {
            if c == 0x0D && peek(1) == 0x0A { return }
            if isControl(c) { throw error("\(describe()) is not allowed in a comment") }
            i += 1
        }
    }

    /// After a header or a key/value pair only blanks and a comment may follow on the line.
    mutating func endOfLine(after what: String) throws(TOMLError) {
        skipBlanks()
        guard let c = peek() else { return }
        switch c {
        case UInt8(ascii: "#"): try skipComment()
        case 0x0A, 0x0D: try lineEnd()
        default: throw error("expected the end of the line after \(what), found \(describe())")
        }
    }

    /// Blanks, newlines and comments, as allowed between an array's values.
    mutating func skipTrivia() throws(TOMLError) {
        while let c = peek() {
            switch c {
            case 0x20, 0x09: i += 1
            case 0x0A, 0x0D: try lineEnd()
            case UInt8(ascii: "#"): try skipComment()
            default: return
            }
        }
    }

    /// Control characters TOML forbids unescaped (all but tab); line ends are handled apart.
    func isControl(_ c: UInt8) -> Bool { (c < 0x20 && c != 0x09) || c == 0x7F }

    func error(_ message: String, at offset: Int? = nil) -> TOMLError {
        let position = Self.position(of: offset ?? i, in: bytes)
        return TOMLError(line: position.line, column: position.column, message: message)
    }

    func line(of offset: Int) -> Int { Self.position(of: offset, in: bytes).line }

    /// The 1-based line and column (in characters) of a byte offset.
    static func position(of offset: Int, in bytes: [UInt8]) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        for byte in bytes[0..<min(offset, bytes.count)] {
            if byte == 0x0A {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return (line, column)
    }

    /// The character at `offset` in words: `'x'`, `the end of the line`, `control character U+0008`.
    func describe(at offset: Int? = nil) -> String {
        let at = offset ?? i
        guard at < bytes.count else { return "the end of the file" }
        let c = bytes[at]
        switch c {
        case 0x0A: return "the end of the line"
        case 0x0D: return "a carriage return"
        case 0x09: return "a tab"
        case 0x20: return "a space"
        case 0..<0x20, 0x7F:
            let hex = TOMLDocument.hex(c)
            return "control character U+00\(hex)"
        case 0x80...:
            var end = at + 1
            while end < bytes.count && bytes[end] & 0xC0 == 0x80 { end += 1 }
            return "'" + String(decoding: bytes[at..<end], as: UTF8.self) + "'"
        default: return "'" + String(UnicodeScalar(c)) + "'"
        }
    }

    // MARK: Keys

    static func isBareKey(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default: false
        }
    }

    /// A dotted key: its parts, each with the offset it starts at.
    mutating func parseKey() throws(TOMLError) -> [(name: String, offset: Int)] {
        var parts: [(name: String, offset: Int)] = []
        while true {
            skipBlanks()
            let start = i
            parts.append((try parseSimpleKey(), start))
            if parts.count > TOMLDocument.maxDepth {
                throw error("a key has more than \(TOMLDocument.maxDepth) dotted parts", at: start)
            }
            skipBlanks()
            guard peek() == UInt8(ascii: ".") else { return parts }
            i += 1
        }
    }

    mutating func parseSimpleKey() throws(TOMLError) -> String {
        switch peek() {
        case UInt8(ascii: "\""):
            if peek(1) == UInt8(ascii: "\"") && peek(2) == UInt8(ascii: "\"") { throw error("a multi-line string cannot be a key") }
            return try parseBasicString()
        case UInt8(ascii: "'"):
            if peek(1) == UInt8(ascii: "'") && peek(2) == UInt8(ascii: "'") { throw error("a multi-line string cannot be a key") }
            return try parseLiteralString()
        case let c? where Self.isBareKey(c):
            let start = i
            while let c = peek(), Self.isBareKey(c) { i += 1 }
            return String(decoding: bytes[start..<i], as: UTF8.self)
        default:
            throw error(
                "expected a key, found \(describe()), which cannot start a key (a bare key is ASCII letters, digits, _ and -; quote any other name)")
        }
    }

    static func path(_ parts: some Collection<(name: String, offset: Int)>) -> String {
        parts.map { part in
            part.name.utf8.allSatisfy(isBareKey) && !part.name.isEmpty ? part.name : TOMLValue.string(part.name).canonical
        }.joined(separator: ".")
    }

    // MARK: Tables

    mutating func parseHeader() throws(TOMLError) {
        let start = i
        i += 1
        let isArray = peek() == UInt8(ascii: "[")
        if isArray { i += 1 }
        let parts = try parseKey()
        guard peek() == UInt8(ascii: "]") else {
            throw error("expected '\(isArray ? "]]" : "]")' to close the table header, found \(describe())")
        }
        i += 1
        if isArray {
            guard peek() == UInt8(ascii: "]") else { throw error("expected ']]' to close the array-of-tables header, found \(describe())") }
            i += 1
        }
        current = try isArray ? defineTableArrayElement(parts, at: start) : defineTable(parts, at: start)
    }

    /// Walks a header's parts but the last: missing tables are created implicitly, an array of
    /// tables leads to its last element, a value (an inline table, a static array) cannot be entered.
    mutating func headerParent(_ parts: [(name: String, offset: Int)]) throws(TOMLError) -> TOMLTableBuilder {
        var table = root
        for (index, part) in parts.dropLast().enumerated() {
            switch table.slots[part.name] {
            case nil: table = try addTable(part.name, origin: .implicit, to: table, at: part.offset)
            case .table(let child): table = child
            case .tables(let array):
                guard let last = array.items.last else { throw error("internal: an empty array of tables", at: part.offset) }
                table = last
            case .value(let value):
                throw error(
                    "\(Self.path(parts[...index])) is already defined as \(Self.kind(value)) (line \(line(of: table.offsets[part.name] ?? 0))); a table header cannot add to it",
                    at: part.offset)
            }
        }
        return table
    }

    mutating func defineTable(_ parts: [(name: String, offset: Int)], at start: Int) throws(TOMLError) -> TOMLTableBuilder {
        let parent = try headerParent(parts)
        guard let last = parts.last else { throw error("a table header needs a name", at: start) }
        let name = "[\(Self.path(parts))]"
        switch parent.slots[last.name] {
        case nil: return try addTable(last.name, origin: .header, to: parent, at: start)
        case .table(let table):
            switch table.origin {
            case .implicit:
                table.origin = .header
                return table
            case .dotted:
                throw error(
                    "the table \(name) was already defined by dotted keys (line \(line(of: table.offset))); a header cannot define it again", at: start)
            case .header, .inline:
                throw error("the table \(name) is defined twice (first at line \(line(of: table.offset)))", at: start)
            }
        case .tables(let array):
            throw error(
                "\(name) is already an array of tables ([\(name)], line \(line(of: array.items.first?.offset ?? 0))); it cannot be a table too", at: start)
        case .value(let value):
            throw error(
                "\(Self.path(parts)) is already defined as \(Self.kind(value)) (line \(line(of: parent.offsets[last.name] ?? 0))); a table header cannot define it again",
                at: start)
        }
    }

    mutating func defineTableArrayElement(_ parts: [(name: String, offset: Int)], at start: Int) throws(TOMLError) -> TOMLTableBuilder {
        let parent = try headerParent(parts)
        guard let last = parts.last else { throw error("a table header needs a name", at: start) }
        // An element sits one level below its array, as it does when written `a = [{…}]`.
        let element = TOMLTableBuilder(origin: .header, depth: parent.depth + 2, offset: start)
        guard element.depth <= TOMLDocument.maxDepth else { throw tooDeep(at: start) }
        switch parent.slots[last.name] {
        case nil: parent.insert(last.name, .tables(TOMLTableArray(element)), at: start)
        case .tables(let array): array.items.append(element)
        case .table(let table):
            throw error(
                "[[\(Self.path(parts))]] cannot make an array of tables: [\(Self.path(parts))] is already a table (line \(line(of: table.offset)))", at: start)
        case .value(let value):
            throw error(
                "[[\(Self.path(parts))]] cannot add to \(Self.path(parts)): it is already defined as \(Self.kind(value)) (line \(line(of: parent.offsets[last.name] ?? 0)))",
                at: start)
        }
        return element
    }

    func addTable(_ name: String, origin: TOMLTableBuilder.Origin, to parent: TOMLTableBuilder, at offset: Int) throws(TOMLError) -> TOMLTableBuilder {
        let child = TOMLTableBuilder(origin: origin, depth: parent.depth + 1, offset: offset)
        guard child.depth <= TOMLDocument.maxDepth else { throw tooDeep(at: offset) }
        parent.insert(name, .table(child), at: offset)
        return child
    }

    func tooDeep(at offset: Int) -> TOMLError {
        error("tables and values nest more than \(TOMLDocument.maxDepth) levels deep", at: offset)
    }

    static func kind(_ value: TOMLValue) -> String {
        switch value {
        case .string: "a string"
        case .integer: "an integer"
        case .float: "a float"
        case .bool: "a boolean"
        case .dateTime: "a date or time"
        case .array: "an array"
        case .table: "an inline table"
        }
    }

    // MARK: Key/value pairs

    /// `key = value` into `table`: each part of a dotted key but the last names a table that
    /// dotted keys created (or creates it); the last must be new.
    mutating func parseKeyValue(into table: TOMLTableBuilder) throws(TOMLError) {
        let parts = try parseKey()
        guard peek() == UInt8(ascii: "=") else { throw error("expected '=' after the key \(Self.path(parts)), found \(describe())") }
        var target = table
        for (index, part) in parts.dropLast().enumerated() {
            switch target.slots[part.name] {
            case nil: target = try addTable(part.name, origin: .dotted, to: target, at: part.offset)
            case .table(let child):
                switch child.origin {
                case .dotted, .inline: break
                case .implicit: child.origin = .dotted
                case .header:
                    throw error(
                        "the table \(Self.path(parts[...index])) is already defined by a header (line \(line(of: child.offset))); dotted keys cannot add to it",
                        at: part.offset)
                }
                target = child
            case .tables:
                throw error("\(Self.path(parts[...index])) is an array of tables ([[…]]); dotted keys cannot add to it", at: part.offset)
            case .value(let value):
                throw error(
                    "\(Self.path(parts[...index])) is already defined as \(Self.kind(value)) (line \(line(of: target.offsets[part.name] ?? 0))); dotted keys cannot add to it",
                    at: part.offset)
            }
        }
        guard let last = parts.last else { throw error("expected a key") }
        if let existing = target.slots[last.name] {
            let first = target.offsets[last.name] ?? 0
            if case .value = existing {
                throw error("the key \(Self.path(parts)) is defined twice (first at line \(line(of: first)))", at: last.offset)
            }
            throw error("\(Self.path(parts)) is already a table (line \(line(of: first))); it cannot be given a value too", at: last.offset)
        }
        i += 1
        skipBlanks()
        let value = try parseValue(depth: target.depth + 1)
        target.insert(last.name, .value(value), at: last.offset)
    }

    // MARK: Values

    mutating func parseValue(depth: Int) throws(TOMLError) -> TOMLValue {
        guard depth <= TOMLDocument.maxDepth else { throw tooDeep(at: i) }
        guard let c = peek() else { throw error("expected a value, found the end of the file") }
        switch c {
        case UInt8(ascii: "\""):
            return .string(peek(1) == c && peek(2) == c ? try parseMultilineString(literal: false) : try parseBasicString())
        case UInt8(ascii: "'"):
            return .string(peek(1) == c && peek(2) == c ? try parseMultilineString(literal: true) : try parseLiteralString())
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "{"): return try parseInlineTable(depth: depth)
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "i"),
            UInt8(ascii: "n"):
            return try parseScalar()
        default:
            throw error("expected a value (a string, number, boolean, date, array or inline table), found \(describe())")
        }
    }

    mutating func parseArray(depth: Int) throws(TOMLError) -> TOMLValue {
        let open = i
        i += 1
        var items: [TOMLValue] = []
        while true {
            try skipTrivia()
            guard let c = peek() else { throw unclosed("array", open: open, expected: "]") }
            if c == UInt8(ascii: "]") {
                i += 1
                return .array(items)
            }
            items.append(try parseValue(depth: depth + 1))
            try skipTrivia()
            switch peek() {
            case UInt8(ascii: ","): i += 1
            case UInt8(ascii: "]"):
                i += 1
                return .array(items)
            case nil: throw unclosed("array", open: open, expected: "]")
            default: throw error("expected ',' or ']' after a value in the array, found \(describe())")
            }
        }
    }

    /// `{ k = v, … }` on one line (a value inside, such as an array, may span lines), no
    /// trailing comma; frozen once read: a later header or dotted key cannot add to it.
    mutating func parseInlineTable(depth: Int) throws(TOMLError) -> TOMLValue {
        let open = i
        i += 1
        let table = TOMLTableBuilder(origin: .inline, depth: depth, offset: open)
        skipBlanks()
        if peek() == UInt8(ascii: "}") {
            i += 1
            return .table(table.build())
        }
        while true {
            skipBlanks()
            try refuseNewlineInInlineTable(open: open)
            try parseKeyValue(into: table)
            skipBlanks()
            switch peek() {
            case UInt8(ascii: ","):
                i += 1
                skipBlanks()
                if peek() == UInt8(ascii: "}") { throw error("a trailing comma is not allowed in an inline table") }
            case UInt8(ascii: "}"):
                i += 1
                return .table(table.build())
            case nil: throw unclosed("inline table", open: open, expected: "}")
            case 0x0A, 0x0D, UInt8(ascii: "#"): try refuseNewlineInInlineTable(open: open)
            default: throw error("expected ',' or '}' in the inline table, found \(describe())")
            }
        }
    }

    func refuseNewlineInInlineTable(open: Int) throws(TOMLError) {
        switch peek() {
        case 0x0A, 0x0D, UInt8(ascii: "#"):
            throw error("an inline table must end on the line it starts (line \(line(of: open))): no newline or comment inside { }")
        case nil: throw unclosed("inline table", open: open, expected: "}")
        default: return
        }
    }

    func unclosed(_ what: String, open: Int, expected: String) -> TOMLError {
        let at = Self.position(of: open, in: bytes)
        return error("the \(what) opened at line \(at.line), column \(at.column) is not closed (expected '\(expected)')")
    }
}
