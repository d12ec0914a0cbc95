/// Booleans, integers, floats, dates and times: read as one token, then checked against the
/// spec's grammar (underscores only between digits, no leading zeros, Int64 range, valid dates).
extension TOMLParser {
    static func isTokenByte(_ c: UInt8) -> Bool {
        isBareKey(c) || c == UInt8(ascii: "+") || c == UInt8(ascii: ".") || c == UInt8(ascii: ":")
    }

    static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    mutating func parseScalar() throws(TOMLError) -> TOMLValue {
        let start = i
        var end = i
        while end < bytes.count && Self.isTokenByte(bytes[end]) { end += 1 }
        // `1979-05-27 07:32:00`: a space may stand for the T between a date and a time.
        if end - start == 10 && bytes[start + 4] == UInt8(ascii: "-") && end + 3 < bytes.count && bytes[end] == 0x20
            && Self.isDigit(bytes[end + 1]) && Self.isDigit(bytes[end + 2]) && bytes[end + 3] == UInt8(ascii: ":")
        {
            end += 1
            while end < bytes.count && Self.isTokenByte(bytes[end]) { end += 1 }
        }
        let token = Array(bytes[start..<end])
        i = end
        if token == Array("true".utf8) { return .bool(true) }
        if token == Array("false".utf8) { return .bool(false) }
        if token.contains(UInt8(ascii: ":")) || (token.count >= 5 && token[0..<4].allSatisfy(Self.isDigit) && token[4] == UInt8(ascii: "-")) {
            guard let value = TOMLDateTimeReader.read(token) else {
                throw error(
                    "'\(String(decoding: token, as: UTF8.self))' is not a valid date or time (e.g. 1979-05-27, 07:32:00, 1979-05-27T07:32:00, 1979-05-27T07:32:00Z; all fields in range)",
                    at: start)
            }
            return .dateTime(value)
        }
        do { return try TOMLNumberReader.read(token) } catch { throw self.error(error.message, at: start) }
    }
}

enum TOMLNumberReader {
    struct Failure: Error { let message: String }

    static func read(_ token: [UInt8]) throws(Failure) -> TOMLValue {
        let text = String(decoding: token, as: UTF8.self)
        guard !token.isEmpty else { throw Failure(message: "expected a value") }
        var body = token[...]
        var negative = false
        if body.first == UInt8(ascii: "+") || body.first == UInt8(ascii: "-") {
            negative = body.first == UInt8(ascii: "-")
            body = body.dropFirst()
        }
        if body.elementsEqual("inf".utf8) { return .float(negative ? -.infinity : .infinity) }
        if body.elementsEqual("nan".utf8) { return .float(negative ? -.nan : .nan) }
        if body.count > 1 && body.first == UInt8(ascii: "0"), let radix = radix(body[body.index(after: body.startIndex)]) {
            guard body.count == token.count else { throw Failure(message: "'\(text)': a sign is not allowed on a hexadecimal, octal or binary integer") }
            return .integer(try integer(body.dropFirst(2), radix: radix, negative: false, text: text))
        }
        let integerEnd = body.firstIndex { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") } ?? body.endIndex
        let integerPart = body[..<integerEnd]
        try checkDigits(integerPart, radix: 10, text: text)
        if integerPart.count > 1 && integerPart.first == UInt8(ascii: "0") { throw Failure(message: "'\(text)': leading zeros are not allowed") }
        if integerEnd == body.endIndex { return .integer(try integer(integerPart, radix: 10, negative: negative, text: text)) }

        var rest = body[integerEnd...]
        var literal = (negative ? "-" : "") + digitsOnly(integerPart)
        if rest.first == UInt8(ascii: ".") {
            rest = rest.dropFirst()
            let fractionEnd = rest.firstIndex { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") } ?? rest.endIndex
            let fraction = rest[..<fractionEnd]
            guard !fraction.isEmpty else { throw Failure(message: "'\(text)': a float needs digits after the '.'") }
            try checkDigits(fraction, radix: 10, text: text)
            literal += "." + digitsOnly(fraction)
            rest = rest[fractionEnd...]
        }
        if let e = rest.first {
            guard e == UInt8(ascii: "e") || e == UInt8(ascii: "E") else { throw Failure(message: "'\(text)' is not a valid number") }
            rest = rest.dropFirst()
            var sign = ""
            if rest.first == UInt8(ascii: "+") || rest.first == UInt8(ascii: "-") {
                sign = rest.first == UInt8(ascii: "-") ? "-" : "+"
                rest = rest.dropFirst()
            }
            guard !rest.isEmpty else { throw Failure(message: "'\(text)': the exponent needs digits") }
            try checkDigits(rest, radix: 10, text: text)
            literal += "e" + sign + digitsOnly(rest)
        }
        guard let value = Double(literal), value.isFinite else {
            throw Failure(message: "'\(text)' is out of range for a 64-bit float")
        }
        return .float(value)
    }

    private static func radix(_ c: UInt8) -> Int? {
        switch c {
        case UInt8(ascii: "x"): 16
        case UInt8(ascii: "o"): 8
        case UInt8(ascii: "b"): 2
        default: nil
        }
    }

    private static func digitValue(_ c: UInt8, radix: Int) -> Int? {
        guard let value = TOMLParser.hexDigit(c).map(Int.init), value < radix else { return nil }
        return value
    }

    /// Digits of `radix` with single underscores between them; at least one digit.
    private static func checkDigits(_ digits: ArraySlice<UInt8>, radix: Int, text: String) throws(Failure) {
        guard !digits.isEmpty else { throw Failure(message: "'\(text)' is not a valid value (a number needs digits)") }
        var previousIsDigit = false
        for c in digits {
            if c == UInt8(ascii: "_") {
                guard previousIsDigit else { throw Failure(message: "'\(text)': an underscore must stand between two digits") }
                previousIsDigit = false
            } else if digitValue(c, radix: radix) != nil {
                previousIsDigit = true
            } else {
                let name = radix == 10 ? "a number" : radix == 16 ? "a hexadecimal integer" : radix == 8 ? "an octal integer" : "a binary integer"
                throw Failure(message: "'\(text)' is not a valid value ('\(String(UnicodeScalar(c)))' cannot appear in \(name))")
            }
        }
        guard previousIsDigit else { throw Failure(message: "'\(text)': an underscore must stand between two digits") }
    }

    private static func digitsOnly(_ digits: ArraySlice<UInt8>) -> String {
        String(decoding: digits.filter { $0 != UInt8(ascii: "_") }, as: UTF8.self)
    }

    private static func integer(_ digits: ArraySlice<UInt8>, radix: Int, negative: Bool, text: String) throws(Failure) -> Int64 {
        try checkDigits(digits, radix: radix, text: text)
        var magnitude: UInt64 = 0
        let limit: UInt64 = negative ? UInt64(Int64.max) + 1 : UInt64(Int64.max)
        for c in digits {
            guard let digit = digitValue(c, radix: radix) else { continue }
            let (times, o1) = magnitude.multipliedReportingOverflow(by: UInt64(radix))
            let (sum, o2) = times.addingReportingOverflow(UInt64(digit))
            guard !o1 && !o2 && sum <= limit else { throw Failure(message: "'\(text)' is out of range for a 64-bit integer") }
            magnitude = sum
        }
        if negative { return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude) }
        return Int64(magnitude)
    }
}

/// RFC 3339 as TOML takes it: `T`, `t` or a space between date and time, seconds required,
/// any number of fraction digits, `Z`, `z` or `±HH:MM`; a leap second (:60) is accepted.
enum TOMLDateTimeReader {
    static func read(_ token: [UInt8]) -> TOMLDateTime? {
        var p = 0
        func number(_ count: Int) -> Int? {
            guard p + count <= token.count else { return nil }
            var value = 0
            for c in token[p..<(p + count)] {
                guard TOMLParser.isDigit(c) else { return nil }
                value = value * 10 + Int(c - UInt8(ascii: "0"))
            }
            p += count
            return value
        }
        func expect(_ c: Character) -> Bool {
            guard p < token.count, let ascii = c.asciiValue, token[p] == ascii else { return false }
            p += 1
            return true
        }
        func time() -> TOMLDateTime.Time? {
            guard let hour = number(2), expect(":"), let minute = number(2), expect(":"), let second = number(2) else { return nil }
            guard hour < 24, minute < 60, second <= 60 else { return nil }
            var nanosecond = 0
            if expect(".") {
                var digits = 0
                while p < token.count && TOMLParser.isDigit(token[p]) {
                    if digits < 9 { nanosecond = nanosecond * 10 + Int(token[p] - UInt8(ascii: "0")) }
                    digits += 1
                    p += 1
                }
                guard digits > 0 else { return nil }
                for _ in digits..<max(digits, 9) { nanosecond *= 10 }
            }
            return .init(hour: hour, minute: minute, second: second, nanosecond: nanosecond)
        }
        let text = String(decoding: token, as: UTF8.self)
        if token.count > 2 && token[2] == UInt8(ascii: ":") {
            guard let t = time(), p == token.count else { return nil }
            return TOMLDateTime(kind: .localTime, text: text, date: nil, time: t, offsetMinutes: nil)
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2) else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year) else { return nil }
        let date = TOMLDateTime.Date(year: year, month: month, day: day)
        if p == token.count { return TOMLDateTime(kind: .localDate, text: text, date: date, time: nil, offsetMinutes: nil) }
        guard expect("T") || expect("t") || expect(" "), let t = time() else { return nil }
        if p == token.count { return TOMLDateTime(kind: .localDateTime, text: text, date: date, time: t, offsetMinutes: nil) }
        var offset = 0
        if expect("Z") || expect("z") {
            offset = 0
        } else {
            guard p < token.count, token[p] == UInt8(ascii: "+") || token[p] == UInt8(ascii: "-") else { return nil }
            let sign = token[p] == UInt8(ascii: "-") ? -1 : 1
            p += 1
            guard let hours = number(2), expect(":"), let minutes = number(2), hours < 24, minutes < 60 else { return nil }
            offset = sign * (hours * 60 + minutes)
        }
        guard p == token.count else { return nil }
        return TOMLDateTime(kind: .offsetDateTime, text: text, date: date, time: t, offsetMinutes: offset)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
