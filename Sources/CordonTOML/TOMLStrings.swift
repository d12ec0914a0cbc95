/// The four string forms: basic ("…", escapes), literal ('…', none), and their multi-line forms.
extension TOMLParser {
    mutating func parseBasicString() throws(TOMLError) -> String {
        let open = i
        i += 1
        var out: [UInt8] = []
        while true {
            guard let c = peek() else { throw unclosed("string", open: open, expected: "\"") }
            switch c {
            case UInt8(ascii: "\""):
                i += 1
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"): try parseEscape(into: &out)
            case 0x0A, 0x0D:
                throw error("the string opened at line \(line(of: open)) is not closed on its line (a newline needs \"\"\"…\"\"\" or \\n)")
            default:
                if isControl(c) { throw error("\(describe()) must be escaped in a string (e.g. \\u00\(TOMLDocument.hex(c)))") }
                out.append(c)
                i += 1
            }
        }
    }

    mutating func parseLiteralString() throws(TOMLError) -> String {
        let open = i
        i += 1
        let start = i
        while true {
            guard let c = peek() else { throw unclosed("string", open: open, expected: "'") }
            switch c {
            case UInt8(ascii: "'"):
                i += 1
                return String(decoding: bytes[start..<(i - 1)], as: UTF8.self)
            case 0x0A, 0x0D: throw error("the string opened at line \(line(of: open)) is not closed on its line (a newline needs '''…''')")
            default:
                if isControl(c) { throw error("\(describe()) is not allowed in a literal string (use a basic string and an escape)") }
                i += 1
            }
        }
    }

    /// `"""…"""` or `'''…'''`: a newline right after the opening quotes is dropped, line ends
    /// read as LF, up to two quotes may stand before the closing three; in the basic form a
    /// backslash at a line's end removes the line end and the blanks and newlines after it.
    mutating func parseMultilineString(literal: Bool) throws(TOMLError) -> String {
        let open = i
        let quote = literal ? UInt8(ascii: "'") : UInt8(ascii: "\"")
        i += 3
        if peek() == 0x0A {
            i += 1
        } else if peek() == 0x0D && peek(1) == 0x0A {
            i += 2
        }
        var out: [UInt8] = []
        while true {
            guard let c = peek() else { throw unclosed("multi-line string", open: open, expected: literal ? "'''" : "\"\"\"") }
            switch c {
            case quote:
                var run = 0
                while peek(run) == quote { run += 1 }
                if run < 3 {
                    out.append(contentsOf: repeatElement(quote, count: run))
                    i += run
                    continue
                }
                guard run <= 5 else { throw error("too many quotes: at most two may stand right before the closing three", at: i + 5) }
                out.append(contentsOf: repeatElement(quote, count: run - 3))
                i += run
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\") where !literal:
                var j = i + 1
                while j < bytes.count && (bytes[j] == 0x20 || bytes[j] == 0x09) { j += 1 }
                if j < bytes.count && (bytes[j] == 0x0A || (bytes[j] == 0x0D && j + 1 < bytes.count && bytes[j + 1] == 0x0A)) {
                    i = j
                    while let d = peek() {
                        if d == 0x20 || d == 0x09 || d == 0x0A {
                            i += 1
                        } else if d == 0x0D {
                            try lineEnd()
                        } else {
                            break
                        }
                    }
                } else {
                    try parseEscape(into: &out)
                }
            case 0x0A, 0x0D:
                try lineEnd()
                out.append(0x0A)
            default:
                if isControl(c) { throw error("\(describe()) is not allowed in a multi-line string\(literal ? "" : " (escape it)")") }
                out.append(c)
                i += 1
            }
        }
    }

    /// One escape, from its backslash: \b \t \n \f \r \" \\ \uXXXX \UXXXXXXXX.
    mutating func parseEscape(into out: inout [UInt8]) throws(TOMLError) {
        let start = i
        i += 1
        guard let e = peek() else { throw error("a backslash at the end of the file starts no escape", at: start) }
        i += 1
        switch e {
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "\""): out.append(e)
        case UInt8(ascii: "\\"): out.append(e)
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let count = e == UInt8(ascii: "u") ? 4 : 8
            var value: UInt32 = 0
            for _ in 0..<count {
                guard let c = peek(), let digit = Self.hexDigit(c) else {
                    throw error("\\\(e == UInt8(ascii: "u") ? "u" : "U") needs exactly \(count) hexadecimal digits", at: start)
                }
                value = value << 4 | UInt32(digit)
                i += 1
            }
            guard let scalar = Unicode.Scalar(value) else {
                throw error("the escape names no Unicode character (surrogates D800-DFFF and values above 10FFFF are not allowed)", at: start)
            }
            out.append(contentsOf: String(Character(scalar)).utf8)
        default:
            throw error(
                "\\\(describe(at: start + 1).trimmingQuotes) is not a valid escape (valid: \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX \\UXXXXXXXX)", at: start)
        }
    }

    static func hexDigit(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension String {
    /// `'x'` to `x`; other descriptions unchanged.
    fileprivate var trimmingQuotes: String {
        hasPrefix("'") && hasSuffix("'") && count >= 3 ? String(dropFirst().dropLast()) : self
    }
}
