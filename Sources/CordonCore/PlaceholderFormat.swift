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

    /// Whether `text` holds the prefix anywhere, in any letter case: the quick test that spares
    /// every request whose target and headers hold none (nearly all) a closer look.
    public static func mentionsPrefix(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            guard bytes.count >= prefixBytes.count else { return false }
            var index = 0
            let last = bytes.count - prefixBytes.count
            while index <= last {
                if lowercased(bytes[index]) == prefixBytes[0] {
                    var matched = 1
                    while matched < prefixBytes.count && lowercased(bytes[index + matched]) == prefixBytes[matched] { matched += 1 }
                    if matched == prefixBytes.count { return true }
                }
                index += 1
            }
            return false
        }
    }

    private static let prefixBytes = Array(prefix.utf8)

    private static func lowercased(_ byte: UInt8) -> UInt8 { (0x41...0x5A).contains(byte) ? byte | 0x20 : byte }

    /// Whether `text` is exactly one placeholder.
    public static func matches(_ text: some StringProtocol) -> Bool {
        let bytes = Array(text.utf8)
        let head = Array(prefix.utf8)
        guard bytes.count == head.count + randomLength, bytes.starts(with: head) else { return false }
        return bytes[head.count...].allSatisfy { alphabet.contains($0) }
    }
}
