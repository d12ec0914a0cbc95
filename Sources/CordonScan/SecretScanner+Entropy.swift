import Foundation

/// Shannon entropy of a candidate secret (gitleaks' `entropy` filter), fast for ASCII.
extension SecretScanner {
    /// Whether the Shannon entropy of `bytes` is above `threshold`: for ASCII, as log2 n − Σ c·log2 c / n
    /// with c·log2 c from a table (no logarithm per distinct byte); within 1e-9 of the threshold,
    /// and for other text, the exact sum of `asciiEntropy`/`shannonEntropy` decides, so the answer
    /// is always theirs.
    static func entropy(of bytes: UnsafeBufferPointer<UInt8>, isAbove threshold: Double) -> Bool {
        guard let estimate = estimatedEntropy(bytes), abs(estimate - threshold) > 1e-9 else {
            return (asciiEntropy(bytes) ?? shannonEntropy(String(decoding: bytes, as: UTF8.self))) > threshold
        }
        return estimate > threshold
    }

    private static let countTimesLog2: [Double] = (0...256).map { $0 == 0 ? 0 : Double($0) * log2(Double($0)) }

    /// The entropy of ASCII `bytes` by the table; nil when empty, not ASCII or longer than the table.
    static func estimatedEntropy(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        guard !bytes.isEmpty, bytes.count <= 256 else { return nil }
        return withUnsafeTemporaryAllocation(of: UInt16.self, capacity: 128) { table -> Double? in
            table.initialize(repeating: 0)
            for b in bytes {
                if b >= 0x80 { return nil }
                table[Int(b)] += 1
            }
            // Each distinct byte once: its count is read, then cleared.
            var sum = 0.0
            countTimesLog2.withUnsafeBufferPointer { terms in
                for b in bytes where table[Int(b)] > 0 {
                    sum += terms[Int(table[Int(b)])]
                    table[Int(b)] = 0
                }
            }
            let n = Double(bytes.count)
            return log2(n) - sum / n
        }
    }

    /// Shannon entropy in bits per byte of ASCII text; nil when `bytes` is empty or not ASCII.
    static func asciiEntropy(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        guard !bytes.isEmpty, bytes.allSatisfy({ $0 < 0x80 }) else { return nil }
        // Count bytes in a fixed table, no hashing, no allocation.
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: 128) { table in
            table.initialize(repeating: 0)
            for b in bytes { table[Int(b)] += 1 }
            var entropy = 0.0
            for count in table where count > 0 {
                let p = Double(count) / Double(bytes.count)
                entropy -= p * log2(p)
            }
            return entropy
        }
    }

    /// Shannon entropy in bits per character.
    public static func shannonEntropy(_ text: String) -> Double {
        if let ascii = text.utf8.withContiguousStorageIfAvailable({ asciiEntropy($0) }), let ascii { return ascii }
        var counts: [Unicode.Scalar: Int] = [:]
        var total = 0
        for scalar in text.unicodeScalars {
            counts[scalar, default: 0] += 1
            total += 1
        }
        guard total > 0 else { return 0 }
        var entropy = 0.0
        for count in counts.values {
            let p = Double(count) / Double(total)
            entropy -= p * log2(p)
        }
        return entropy
    }
}
