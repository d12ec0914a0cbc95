#if canImport(Glibc)
    import Glibc
#endif

/// Line numbers for one file's findings: the newline offsets are found once (memchr), on the
/// first finding, then each lookup is a binary search (a test-vector file with hundreds of keys
/// would otherwise be re-counted from the start for every one).
final class LineIndex {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var newlines: [Int]?

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// The 1-based line holding byte `offset`.
    func line(at offset: Int) -> Int { position(of: offset).line }

    /// The 1-based line holding byte `offset`, and the offset where that line starts.
    func position(of offset: Int) -> (line: Int, start: Int) {
        let offsets = newlines ?? build()
        var low = 0
        var high = offsets.count
        while low < high {
            let mid = (low + high) / 2
            if offsets[mid] < offset { low = mid + 1 } else { high = mid }
        }
        return (low + 1, low == 0 ? 0 : offsets[low - 1] + 1)
    }

    /// The offset where 1-based `line` starts.
    func start(ofLine line: Int) -> Int {
        let offsets = newlines ?? build()
        guard line > 1 else { return 0 }
        return line - 2 < offsets.count ? offsets[line - 2] + 1 : bytes.count
    }

    /// The line holding byte `offset`, without its line break.
    func text(ofLineAt offset: Int) -> String {
        let (line, start) = position(of: offset)
        let offsets = newlines ?? []
        var end = line - 1 < offsets.count ? offsets[line - 1] : bytes.count
        if end > start && bytes[end - 1] == 13 { end -= 1 }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }

    private func build() -> [Int] {
        var offsets: [Int] = []
        if let base = bytes.baseAddress {
            var position = 0
            while position < bytes.count, let hit = memchr(base + position, 10, bytes.count - position) {
                let index = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                offsets.append(index)
                position = index + 1
            }
        }
        newlines = offsets
        return offsets
    }
}
