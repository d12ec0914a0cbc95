#if canImport(Glibc)
    import Glibc
#endif

/// A Bloom filter over byte strings: about 10 bits and 7 probes per entry (≈1% false positives,
/// which the exact set behind it absorbs).
package struct BloomFilter: Sendable {
    package private(set) var words: [UInt64]
    private let bitCount: UInt64
    private let probes = 7

    package init(expectedCount: Int) {
        let bits = max(UInt64(expectedCount) * 10, 64)
        self.init(words: [UInt64](repeating: 0, count: Int((bits + 63) / 64)))
    }

    package init(words: [UInt64]) {
        self.words = words
        bitCount = UInt64(words.count) * 64
    }

    package mutating func insert(_ text: some StringProtocol) {
        var copy = String(text)
        copy.withUTF8 { insert(bytes: $0) }
    }

    package mutating func insert(bytes: UnsafeBufferPointer<UInt8>) {
        let (h1, h2) = BloomFilter.hashes(bytes)
        for i in 0..<UInt64(probes) {
            let bit = (h1 &+ i &* h2) % bitCount
            words[Int(bit / 64)] |= 1 << (bit % 64)
        }
    }

    package func mightContain(_ text: some StringProtocol) -> Bool {
        let (h1, h2) = BloomFilter.hashes(text)
        for i in 0..<UInt64(probes) {
            let bit = (h1 &+ i &* h2) % bitCount
            if words[Int(bit / 64)] & (1 << (bit % 64)) == 0 { return false }
        }
        return true
    }

    private static func hashes(_ text: some StringProtocol) -> (UInt64, UInt64) {
        if let result = text.utf8.withContiguousStorageIfAvailable({ hashes($0) }) { return result }
        var copy = String(text)
        return copy.withUTF8 { hashes($0) }
    }

    /// FNV-1a 64 and a second, independent mix of it (Kirsch–Mitzenmacher double hashing).
    /// Part of the compiled blocklist format: changing it needs a new format version.
    private static func hashes(_ buffer: UnsafeBufferPointer<UInt8>) -> (UInt64, UInt64) {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in buffer {
            h ^= UInt64(byte)
            h = h &* 0x100_0000_01b3
        }
        var m = h ^ (h >> 33)
        m = m &* 0xff51_afd7_ed55_8ccd
        m ^= m >> 33
        return (h, m | 1)
    }
}
