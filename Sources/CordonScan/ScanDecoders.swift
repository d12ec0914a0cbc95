import Foundation

/// The encodings a secret can be wrapped in to slip past a scan of the text as written: the
/// segments gitleaks 8.x decodes (`--max-decode-depth`: percent-encoding, hex, base64 standard
/// and URL-safe), UTF-16 text, and the printable runs of a binary file. Pure functions over bytes;
/// `SecretScanner+Beneath` decides what to scan again.
enum ScanDecoders {
    enum Encoding: String, Sendable {
        case percent, hex, base64
    }

    /// One encoded run in a buffer and what it decodes to (text: see `isText`).
    struct Segment {
        var range: Range<Int>
        var encoding: Encoding
        var decoded: [UInt8]
    }

    /// Byte classes: 1 the base64 alphabet (standard and URL-safe: letters, digits, `+/-_`),
    /// 2 a hex digit.
    static let classes: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 256)
        for b in UInt8(ascii: "A")...UInt8(ascii: "Z") { table[Int(b)] |= 1 }
        for b in UInt8(ascii: "a")...UInt8(ascii: "z") { table[Int(b)] |= 1 }
        for b in UInt8(ascii: "0")...UInt8(ascii: "9") { table[Int(b)] |= 3 }
        for b in UInt8(ascii: "a")...UInt8(ascii: "f") { table[Int(b)] |= 2 }
        for b in UInt8(ascii: "A")...UInt8(ascii: "F") { table[Int(b)] |= 2 }
        for b in [UInt8(ascii: "+"), UInt8(ascii: "/"), UInt8(ascii: "-"), UInt8(ascii: "_")] { table[Int(b)] |= 1 }
        return table
    }()

    /// Base64 digit values, both alphabets at once (`+` and `-` are 62, `/` and `_` 63); 0xff: none.
    static let base64Values: [UInt8] = {
        var table = [UInt8](repeating: 0xff, count: 256)
        for (i, b) in (UInt8(ascii: "A")...UInt8(ascii: "Z")).enumerated() { table[Int(b)] = UInt8(i) }
        for (i, b) in (UInt8(ascii: "a")...UInt8(ascii: "z")).enumerated() { table[Int(b)] = UInt8(26 + i) }
        for (i, b) in (UInt8(ascii: "0")...UInt8(ascii: "9")).enumerated() { table[Int(b)] = UInt8(52 + i) }
        table[Int(UInt8(ascii: "+"))] = 62
        table[Int(UInt8(ascii: "-"))] = 62
        table[Int(UInt8(ascii: "/"))] = 63
        table[Int(UInt8(ascii: "_"))] = 63
        return table
    }()

    /// gitleaks' thresholds: base64 runs of 16 or more, hex runs of 32 or more.
    static let minBase64 = 16
    static let minHex = 32

    /// The encoded segments within `range` of `bytes` whose decoding is text, left to right,
    /// none overlapping. A run of the base64 alphabet that is all hex digits (and long enough)
    /// is read as hex, as gitleaks' order of precedence does; percent runs are `(%XX)+`.
    ///
    /// Every file goes through this, so it skips: a run of 16 or more that starts anywhere in
    /// the next 16 bytes covers the 16th of them, so when that byte is outside the alphabet all
    /// 16 are passed over at once (most of a source file); `%` is found with memchr.
    static func segments(in bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>) -> [Segment] {
        guard let base = bytes.baseAddress, !range.isEmpty else { return [] }
        var found: [Segment] = []
        classes.withUnsafeBufferPointer { table in
            let end = range.upperBound
            // Percent runs first: an alphabet run may begin with the hex digits of one's last escape.
            // Every run counts for that, whether or not it decodes to text.
            var percent: [Segment] = []
            var percentRuns: [Range<Int>] = []
            var at = range.lowerBound
            while at < end, let hit = memchr(base + at, Int32(UInt8(ascii: "%")), end - at) {
                let index = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                if let run = percentRun(bytes, at: index, end: end, table: table) {
                    percentRuns.append(run)
                    if let decoded = decodePercent(UnsafeBufferPointer(rebasing: bytes[run])) {
                        percent.append(Segment(range: run, encoding: .percent, decoded: decoded))
                    }
                    at = run.upperBound
                } else {
                    at = index + 1
                }
            }
            var nextPercent = 0
            // Runs of the alphabet. At the top of the loop, the byte before `i` is not in a run
            // that could still matter (outside the alphabet, padding, or before `range`).
            var i = range.lowerBound
            while i + minBase64 <= end {
                let probe = i + minBase64 - 1
                if table[Int(bytes[probe])] & 1 == 0 {
                    i = probe + 1
                    continue
                }
                // A run of 16 that covers `probe` also covers the byte 8 before it or 8 after it;
                // when neither is in the alphabet, no run of 16 starts before the one after.
                let after = probe + minBase64 / 2
                if table[Int(bytes[probe - minBase64 / 2])] & 1 == 0 && (after >= end || table[Int(bytes[after])] & 1 == 0) {
                    i = after + 1
                    continue
                }
                var start = probe
                while start > i && table[Int(bytes[start - 1])] & 1 != 0 { start -= 1 }
                while nextPercent < percentRuns.count && percentRuns[nextPercent].upperBound <= start { nextPercent += 1 }
                if nextPercent < percentRuns.count && percentRuns[nextPercent].lowerBound < start { start = percentRuns[nextPercent].upperBound }
                var j = probe + 1
                while j < end && table[Int(bytes[j])] & 1 != 0 { j += 1 }
                if start > probe { j = max(j, start) }
                let length = j - start
                // Whether it is all hex digits only matters for the few runs long enough to be hex.
                if length >= minHex && (start..<j).allSatisfy({ table[Int(bytes[$0])] & 2 != 0 }) {
                    let even = start..<(start + length & ~1)
                    if let decoded = decodeHex(UnsafeBufferPointer(rebasing: bytes[even])) {
                        found.append(Segment(range: even, encoding: .hex, decoded: decoded))
                    }
                } else if length >= minBase64 {
                    var stop = j
                    while stop < end && stop - j < 3 && bytes[stop] == UInt8(ascii: "=") { stop += 1 }
                    if let decoded = decodeBase64(UnsafeBufferPointer(rebasing: bytes[start..<j])) {
                        found.append(Segment(range: start..<stop, encoding: .base64, decoded: decoded))
                    }
                    j = stop
                }
                i = j
            }
            if !percent.isEmpty {
                found = (found + percent).sorted { $0.range.lowerBound < $1.range.lowerBound }
            }
        }
        return found
    }

    /// `segments` the plain way, every byte looked at in turn: what the tests hold the fast
    /// version to.
    static func segmentsByteByByte(in bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>) -> [Segment] {
        var found: [Segment] = []
        classes.withUnsafeBufferPointer { table in
            var i = range.lowerBound
            let end = range.upperBound
            while i < end {
                let c = table[Int(bytes[i])]
                if c & 1 == 0 {
                    if bytes[i] == UInt8(ascii: "%"), let run = percentRun(bytes, at: i, end: end, table: table) {
                        if let decoded = decodePercent(UnsafeBufferPointer(rebasing: bytes[run])) {
                            found.append(Segment(range: run, encoding: .percent, decoded: decoded))
                        }
                        i = run.upperBound
                        continue
                    }
                    i += 1
                    continue
                }
                var j = i + 1
                var allHex = c & 2 != 0
                while j < end {
                    let k = table[Int(bytes[j])]
                    if k & 1 == 0 { break }
                    if k & 2 == 0 { allHex = false }
                    j += 1
                }
                let length = j - i
                if allHex && length >= minHex {
                    let even = i..<(i + length & ~1)
                    if let decoded = decodeHex(UnsafeBufferPointer(rebasing: bytes[even])) {
                        found.append(Segment(range: even, encoding: .hex, decoded: decoded))
                    }
                } else if length >= minBase64 {
                    var stop = j
                    while stop < end && stop - j < 3 && bytes[stop] == UInt8(ascii: "=") { stop += 1 }
                    if let decoded = decodeBase64(UnsafeBufferPointer(rebasing: bytes[i..<j])) {
                        found.append(Segment(range: i..<stop, encoding: .base64, decoded: decoded))
                    }
                    j = stop
                }
                i = j
            }
        }
        return found
    }

    private static func percentRun(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int, end: Int, table: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        var j = start
        while j + 3 <= end, bytes[j] == UInt8(ascii: "%"), table[Int(bytes[j + 1])] & 2 != 0, table[Int(bytes[j + 2])] & 2 != 0 { j += 3 }
        return j > start ? start..<j : nil
    }

    /// Base64 (either alphabet, padding already cut off) decoded, when the result is text.
    static func decodeBase64(_ digits: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var count = digits.count
        if count % 4 == 1 { count -= 1 }
        return base64Values.withUnsafeBufferPointer { values -> [UInt8]? in
            // Twice: first only checking (nearly every run fails within a few bytes, and then
            // nothing was allocated), then keeping the bytes.
            var out: [UInt8] = []
            for keep in [false, true] {
                if keep { out.reserveCapacity(count * 3 / 4) }
                var text = TextCheck()
                var accumulator: UInt32 = 0
                var bits = 0
                for index in 0..<count {
                    let value = values[Int(digits[index])]
                    if value == 0xff { return nil }
                    accumulator = accumulator << 6 | UInt32(value)
                    bits += 6
                    if bits >= 8 {
                        bits -= 8
                        let byte = UInt8(truncatingIfNeeded: accumulator >> UInt32(bits))
                        if !text.admit(byte) { return nil }
                        if keep { out.append(byte) }
                    }
                }
                if !keep && text.nonASCII > 0 && text.nonASCII * 5 > count * 3 / 4 { return nil }
            }
            var text = TextCheck()
            for byte in out { _ = text.admit(byte) }
            return text.accepts(out) ? out : nil
        }
    }

    static func decodeHex(_ digits: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var text = TextCheck()
        var index = 0
        while index + 1 < digits.count {
            guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else { return nil }
            let byte = high << 4 | low
            if !text.admit(byte) { return nil }
            out.append(byte)
            index += 2
        }
        return text.accepts(out) ? out : nil
    }

    /// `(%XX)+` decoded, when the result is text.
    static func decodePercent(_ run: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        var text = TextCheck()
        var index = 0
        while index + 2 < run.count {
            guard let high = hexValue(run[index + 1]), let low = hexValue(run[index + 2]) else { return nil }
            let byte = high << 4 | low
            if !text.admit(byte) { return nil }
            out.append(byte)
            index += 3
        }
        return text.accepts(out) ? out : nil
    }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// What a decoding must be to be scanned again: printable ASCII and whitespace, or valid
    /// UTF-8 that is mostly ASCII, no other control characters. Random runs (identifiers, hashes,
    /// images in data URIs) decode to bytes that fail this at once, which keeps the cost of
    /// trying every run low and keeps noise out of the rules.
    struct TextCheck {
        var nonASCII = 0

        mutating func admit(_ byte: UInt8) -> Bool {
            if byte >= 0x80 {
                nonASCII += 1
                return true
            }
            return byte >= 0x20 && byte != 0x7f || byte == 9 || byte == 10 || byte == 13
        }

        func accepts(_ bytes: [UInt8]) -> Bool {
            if bytes.isEmpty { return false }
            if nonASCII == 0 { return true }
            return nonASCII * 5 <= bytes.count && String(validating: bytes, as: UTF8.self) != nil
        }
    }

    /// UTF-16 text (a byte-order mark, or without one when nearly every other byte of the first
    /// 4 KiB is zero: ASCII-range text) transcoded to UTF-8, with the name of the encoding.
    static func utf16(_ bytes: UnsafeBufferPointer<UInt8>) -> (text: [UInt8], name: String)? {
        guard bytes.count >= 4 else { return nil }
        var littleEndian: Bool
        var start = 0
        if bytes[0] == 0xff && bytes[1] == 0xfe && !(bytes[2] == 0 && bytes[3] == 0) {
            littleEndian = true
            start = 2
        } else if bytes[0] == 0xfe && bytes[1] == 0xff {
            littleEndian = false
            start = 2
        } else {
            let pairs = min(bytes.count, 4096) / 2
            // Text without a zero byte (almost every file) is settled by one memchr.
            guard pairs >= 4, let base = bytes.baseAddress, memchr(base, 0, 2 * pairs) != nil else { return nil }
            var zeroEven = 0
            var zeroOdd = 0
            for pair in 0..<pairs {
                if bytes[2 * pair] == 0 { zeroEven += 1 }
                if bytes[2 * pair + 1] == 0 { zeroOdd += 1 }
            }
            if zeroOdd * 10 >= pairs * 7 && zeroEven * 10 <= pairs {
                littleEndian = true
            } else if zeroEven * 10 >= pairs * 7 && zeroOdd * 10 <= pairs {
                littleEndian = false
            } else {
                return nil
            }
        }
        var units: [UInt16] = []
        units.reserveCapacity((bytes.count - start) / 2)
        var index = start
        while index + 1 < bytes.count {
            let a = UInt16(bytes[index])
            let b = UInt16(bytes[index + 1])
            units.append(littleEndian ? a | b << 8 : a << 8 | b)
            index += 2
        }
        return (Array(String(decoding: units, as: UTF16.self).utf8), littleEndian ? "UTF-16LE" : "UTF-16BE")
    }

    /// `bytes` with every byte outside printable ASCII, tab and line breaks turned into a line
    /// break: the runs `strings` would print, each on its own line, at the offsets they have in
    /// the file (so line numbers and columns can be taken from the file itself).
    static func printableRuns(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: bytes.count)
        out.withUnsafeMutableBufferPointer { out in
            for index in 0..<bytes.count {
                let b = bytes[index]
                out[index] = (b >= 0x20 && b < 0x7f) || b == 9 || b == 13 ? b : 10
            }
        }
        return out
    }
}
