public import CordonCore

/// A keystore entry's name: a letter, then up to 63 letters, digits, `_`, `.` or `-`. Strict so a
/// name is safe in a path, a profile, a shell command and a terminal line as written.
public struct SecretName: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let text: String

    /// The grammar as the error and the docs state it.
    public static let grammar = "[A-Za-z][A-Za-z0-9_.-]{0,63}"

    public init(_ text: String) throws(CordonError) {
        guard Self.isValid(text) else {
            throw CordonError(
                .invalidArgument, "\"\(TerminalText.escaped(text))\" is not a valid secret name",
                hint: "use a letter, then up to 63 letters, digits, '_', '.' or '-' (\(Self.grammar))")
        }
        self.text = text
    }

    public static func isValid(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, bytes.count <= 64, isLetter(first) else { return false }
        return bytes.allSatisfy { isLetter($0) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F || $0 == 0x2E || $0 == 0x2D }
    }

    private static func isLetter(_ byte: UInt8) -> Bool { (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) }

    public var description: String { text }
    public static func < (a: SecretName, b: SecretName) -> Bool { a.text < b.text }
}
