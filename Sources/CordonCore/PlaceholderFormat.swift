/// The documented shape of the placeholder a sandbox sees instead of a secret's value:
/// `cordon-ph-` and 32 characters of lowercase base32 (`a`-`z`, `2`-`7`), 160 random bits.
/// Shared so that the keystore that makes them and the sync gate's scanner that must not report
/// them as secrets agree on exactly one format.
public enum PlaceholderFormat {
    public static let prefix = "cordon-ph-"
    public static let randomLength = 32
    public static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)
    /// The format as a regular expression (PCRE, no anchors), for rule allowlists.
    public static let pattern = "cordon-ph-[a-z2-7]{32}"

    /// Whether `text` is exactly one placeholder.
    public static func matches(_ text: some StringProtocol) -> Bool {
        let bytes = Array(text.utf8)
        let head = Array(prefix.utf8)
        guard bytes.count == head.count + randomLength, bytes.starts(with: head) else { return false }
        return bytes[head.count...].allSatisfy { alphabet.contains($0) }
    }
}
