extension Collection<UInt8> {
    /// The same bytes as `lowercase` (which is lower-case ASCII), ignoring ASCII case here: header
    /// names, list tokens and URI schemes are compared this way on the raw bytes.
    func equalsIgnoringASCIICase(_ lowercase: some Collection<UInt8>) -> Bool {
        count == lowercase.count && zip(self, lowercase).allSatisfy { ((0x41...0x5A).contains($0) ? $0 | 0x20 : $0) == $1 }
    }
}

extension StringProtocol {
    /// The UTF-8 bytes with ASCII letters lower-cased and every other byte kept, so offsets into the
    /// result are offsets into the text (Unicode lower-casing can change lengths).
    var asciiLowercasedBytes: [UInt8] { utf8.map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 } }
}
