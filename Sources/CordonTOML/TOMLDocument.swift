/// Parses TOML 1.0 (https://toml.io/en/v1.0.0) strictly: every redefinition the spec forbids,
/// every malformed literal, invalid UTF-8 and forbidden control characters are a `TOMLError`
/// with a position; nothing a document contains can crash the caller. Nesting (tables and
/// values together) is limited to `maxDepth`, so no input exhausts the stack.
public enum TOMLDocument {
    public static let maxDepth = 128

    public static func parse(_ bytes: [UInt8]) throws(TOMLError) -> TOMLTable {
        if let offset = UTF8Check.firstInvalid(bytes) {
            let position = TOMLParser.position(of: offset, in: bytes)
            throw TOMLError(line: position.line, column: position.column, message: "the file is not valid UTF-8 (byte 0x\(hex(bytes[offset])))")
        }
        var parser = TOMLParser(bytes)
        return try parser.parseDocument()
    }

    public static func parse(_ text: String) throws(TOMLError) -> TOMLTable {
        try parse(Array(text.utf8))
    }

    static func hex(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16, uppercase: true)
        return byte < 16 ? "0" + digits : digits
    }
}

/// Where bytes stop being UTF-8 (overlong forms, surrogates and values above U+10FFFF included).
enum UTF8Check {
    static func firstInvalid(_ bytes: [UInt8]) -> Int? {
        var i = 0
        let n = bytes.count
        while i < n {
            let b0 = bytes[i]
            if b0 < 0x80 {
                i += 1
                continue
            }
            let length: Int
            var low: UInt8 = 0x80
            var high: UInt8 = 0xBF
            switch b0 {
            case 0xC2...0xDF: length = 2
            case 0xE0:
                length = 3
                low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED:
                length = 3
                high = 0x9F
            case 0xF0:
                length = 4
                low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4:
                length = 4
                high = 0x8F
            default: return i
            }
            guard i + length <= n else { return i }
            guard (low...high).contains(bytes[i + 1]) else { return i }
            for k in 2..<length where !(0x80...0xBF).contains(bytes[i + k]) { return i }
            i += length
        }
        return nil
    }
}
