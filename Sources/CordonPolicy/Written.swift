/// A profile value parsed once, kept with the text as written: the policy reads `value`, the
/// profile renders `text` back unchanged (`cordon config compile` shows what the user wrote, not
/// the canonical form). Only this module's grammar makes one (`EgressConfiguration`'s field
/// parsers), so a `Written` value always holds what its text means.
public struct Written<Value: Hashable & Sendable>: Hashable, Sendable, CustomStringConvertible {
    /// The text as written in the profile (or the approval file, or the srt settings).
    public let text: String
    /// What the text means, as the grammar of its field read it.
    public let value: Value

    init(_ text: String, _ value: Value) {
        self.text = text
        self.value = value
    }

    public var description: String { text }
}
