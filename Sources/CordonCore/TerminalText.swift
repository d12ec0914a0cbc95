/// Text the agent chose (file names, symlink targets, hosts) made safe to show on a terminal.
///
/// A terminal obeys what it is sent: an escape sequence in a file name can move the cursor and
/// erase the lines of a review above it, and a bidi override (U+202E) makes a name read backwards.
/// Every human-readable output of such text goes through `escaped`.
public enum TerminalText {
    /// `text` with C0 and C1 control characters and DEL written `\xHH`, bidi controls and other
    /// invisible formatting characters written `\u{HHHH}`. A name that merely spells such an
    /// escape shows the same; the gate flags every name that needed one (so the two never pass
    /// for each other unnoticed), and the one that did is held.
    public static func escaped(_ text: String) -> String {
        escape(text, keeping: { _ in false })
    }

    /// File content for a terminal (a patch under review): control characters other than tab and
    /// newline, and bidi or invisible formatting characters, escaped as in `escaped`.
    public static func escapedContent(_ text: String) -> String {
        escape(text, keeping: { $0 == "\t" || $0 == "\n" })
    }

    private static func escape(_ text: String, keeping kept: (Unicode.Scalar) -> Bool) -> String {
        guard text.unicodeScalars.contains(where: { needsEscape($0) && !kept($0) }) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if !needsEscape(scalar) || kept(scalar) {
                out.unicodeScalars.append(scalar)
            } else if isInvisibleFormat(scalar) {
                out += "\\u{" + hex(scalar.value, width: 4) + "}"
            } else {
                out += "\\x" + hex(scalar.value, width: 2)
            }
        }
        return out
    }

    /// Whether `text` holds a character `escaped` would rewrite.
    public static func hasUnsafeCharacters(_ text: String) -> Bool {
        text.unicodeScalars.contains(where: needsEscape)
    }

    /// Whether `text` holds a bidi control or another invisible formatting character.
    public static func hasInvisibleFormatting(_ text: String) -> Bool {
        text.unicodeScalars.contains(where: isInvisibleFormat)
    }

    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || isInvisibleFormat(scalar)
    }

    /// Bidi embeddings, overrides and isolates, directional marks, zero-width characters, the
    /// BOM and other format characters that change how a name reads without showing.
    static func isInvisibleFormat(_ scalar: Unicode.Scalar) -> Bool {
        // No ASCII character is a format character: spares every plain line the Unicode
        // property lookup (tables the process would otherwise page in to print one line).
        guard scalar.value >= 0x80 else { return false }
        switch scalar.value {
        case 0x061C, 0x200B...0x200F, 0x202A...0x202E, 0x2060...0x2069, 0xFEFF, 0xFFF9...0xFFFB: return true
        default: return scalar.properties.generalCategory == .format && scalar.value != 0x00AD
        }
    }

    private static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
