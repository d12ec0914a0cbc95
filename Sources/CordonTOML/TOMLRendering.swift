/// Two deterministic renderings of a parsed document: `canonical` to compare two documents'
/// content (JSON-like, keys sorted), and `tomlText` to write a table back as TOML that parses
/// to an equal table. Recursion is bounded by the parser's nesting limit.
extension TOMLTable {
    /// `{"key":value,…}` with the keys sorted by their UTF-8 bytes; strings quoted and escaped as
    /// JSON, dates and times unquoted as written, floats as Swift prints them (`inf`, `nan`).
    public var canonical: String {
        var out = ""
        TOMLRendering.canonical(self, into: &out)
        return out
    }

    /// One line per key, `"key" = value`, every table below the top written inline.
    public var tomlText: String {
        var out = ""
        for (key, value) in entries {
            TOMLRendering.quoted(key, into: &out)
            out += " = "
            TOMLRendering.inline(value, into: &out)
            out += "\n"
        }
        return out
    }
}

extension TOMLValue {
    /// See `TOMLTable.canonical`.
    public var canonical: String {
        var out = ""
        TOMLRendering.canonical(self, into: &out)
        return out
    }
}

enum TOMLRendering {
    static func canonical(_ table: TOMLTable, into out: inout String) {
        out += "{"
        for (index, key) in table.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
            if index > 0 { out += "," }
            quoted(key, into: &out)
            out += ":"
            if let value = table[key] { canonical(value, into: &out) }
        }
        out += "}"
    }

    static func canonical(_ value: TOMLValue, into out: inout String) {
        switch value {
        case .table(let table): canonical(table, into: &out)
        case .array(let items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                canonical(item, into: &out)
            }
            out += "]"
        default: scalar(value, into: &out)
        }
    }

    static func inline(_ value: TOMLValue, into out: inout String) {
        switch value {
        case .table(let table):
            out += "{"
            for (index, (key, item)) in table.entries.enumerated() {
                out += index > 0 ? ", " : " "
                quoted(key, into: &out)
                out += " = "
                inline(item, into: &out)
            }
            out += table.isEmpty ? "}" : " }"
        case .array(let items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += ", " }
                inline(item, into: &out)
            }
            out += "]"
        default: scalar(value, into: &out)
        }
    }

    private static func scalar(_ value: TOMLValue, into out: inout String) {
        switch value {
        case .string(let s): quoted(s, into: &out)
        case .integer(let n): out += String(n)
        case .float(let d): out += d.isNaN ? "nan" : d.description
        case .bool(let b): out += b ? "true" : "false"
        case .dateTime(let d): out += d.text
        case .array, .table: break
        }
    }

    /// A double-quoted string valid both as JSON and as a TOML basic string.
    static func quoted(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
