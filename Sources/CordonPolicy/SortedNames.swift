#if canImport(Glibc)
    import Glibc
#endif

/// Distinct names, sorted bytewise, in one blob with offsets: compact, and loadable without parsing.
package struct SortedNames: Sendable {
    package let blob: [UInt8]
    /// `count + 1` offsets into `blob`.
    package let offsets: [UInt32]

    package var count: Int { offsets.count - 1 }

    package init(blob: [UInt8], offsets: [UInt32]) {
        self.blob = blob
        self.offsets = offsets
    }

    package init(_ names: [String]) {
        var utf8 = names.map { Array($0.utf8) }
        utf8.sort { $0.lexicographicallyPrecedes($1) }
        var blob: [UInt8] = []
        var offsets: [UInt32] = [0]
        blob.reserveCapacity(utf8.reduce(0) { $0 + $1.count })
        var previous: [UInt8]?
        for name in utf8 where name != previous {
            blob += name
            offsets.append(UInt32(blob.count))
            previous = name
        }
        self.init(blob: blob, offsets: offsets)
    }

    package func forEach(_ body: (ArraySlice<UInt8>) -> Void) {
        for i in 0..<count { body(blob[Int(offsets[i])..<Int(offsets[i + 1])]) }
    }

    package func contains(_ name: [UInt8]) -> Bool {
        guard count > 0, !name.isEmpty, !blob.isEmpty else { return false }
        var low = 0
        var high = count
        return blob.withUnsafeBufferPointer { bytes in
            name.withUnsafeBufferPointer { key in
                while low < high {
                    let mid = (low + high) / 2
                    let start = Int(offsets[mid])
                    let length = Int(offsets[mid + 1]) - start
                    var order = memcmp(bytes.baseAddress! + start, key.baseAddress!, min(length, key.count))
                    if order == 0 { order = Int32(length) - Int32(key.count) }
                    if order == 0 { return true }
                    if order < 0 { low = mid + 1 } else { high = mid }
                }
                return false
            }
        }
    }
}
