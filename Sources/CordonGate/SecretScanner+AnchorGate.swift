/// What must follow an anchored rule's leading literal for its regex to have a chance there: a
/// byte test run at each place Hyperscan reports the literal, before the exact engine is called.
///
/// Derived from the regex itself. After the literal come optional runs of single characters
/// (the generic rule's `[ \t\w.-]{0,20}`, `[\s'"]{0,3}`: at most `reach` characters, each in
/// `run`), then the first item that must match at least one character (its assignment operator),
/// whose possible first bytes are `first`. When that item's length is bounded (`operatorWidth`)
/// and is followed by more optional runs and then a repeated single character (the value,
/// `([\w.=~+/-]{16,150})`), `value` adds: that many bytes of its class must start within
/// `valueWindow` bytes of the operator's start. `admits` checks only what every match needs, so
/// it is a superset of the regex: it skips places where no match can start, nothing else.
///
/// The byte sets are asked of PCRE2 itself, byte by byte, with the rule's flags; widths come from
/// PCRE2 (minimum) and Hyperscan (maximum). Bytes of 0x80 and up are never ruled out (a UTF-8
/// character is several bytes, so counts of characters would not hold for them); U+212A and
/// U+017F, the only non-ASCII characters ASCII classes accept under `(?i)`, send the whole file
/// to the exact engine before this test is ever used.
struct AnchorGate: Sendable {
    /// A set of bytes as four 64-bit masks (a plain value: no reference counting per hit).
    struct ByteSet: Sendable {
        private var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        @inline(__always) func contains(_ byte: UInt8) -> Bool {
            let word = withUnsafeBytes(of: words) { $0.load(fromByteOffset: Int(byte >> 6) &* 8, as: UInt64.self) }
            return word >> (byte & 63) & 1 != 0
        }
        mutating func insert(_ byte: UInt8) {
            withUnsafeMutableBytes(of: &words) { raw in
                let offset = Int(byte >> 6) * 8
                raw.storeBytes(of: raw.load(fromByteOffset: offset, as: UInt64.self) | 1 << (byte & 63), toByteOffset: offset, as: UInt64.self)
            }
        }
    }

    /// What must follow the operator: `count` bytes of `bytes`, starting `window` bytes or less
    /// after the operator's start and at least `skip` bytes after it (`count` 0: nothing known).
    struct Value: Sendable {
        var bytes = ByteSet()
        var count = 0
        var skip = 0
        var window = 0
    }

    /// ASCII bytes the optional runs accept.
    private(set) var run = ByteSet()
    /// Bytes the first mandatory item can begin with; every byte from 0x80 up is in (no claim).
    private(set) var first = ByteSet()
    /// Most characters the optional runs take together.
    private(set) var reach = 0
    private(set) var value = Value()

    init() {
        for byte in UInt8(0x80)...0xff { first.insert(byte) }
    }

    /// Bits of `table`: which sets a byte is in.
    static let inRun: UInt8 = 1
    static let inFirst: UInt8 = 2
    static let inValue: UInt8 = 4

    /// The three byte sets as one 256-entry table of `in…` bits: what the hot loop reads (one
    /// load per byte, through a pointer the scanner holds for the whole file).
    var table: [UInt8] {
        (0...255).map { (byte: UInt8) -> UInt8 in
            (run.contains(byte) ? Self.inRun : 0) | (first.contains(byte) ? Self.inFirst : 0) | (value.bytes.contains(byte) ? Self.inValue : 0)
        }
    }

    /// Whether the rule's regex, its literal ending at `end`, can match there; `table` is `self.table`.
    func admits(_ bytes: UnsafeBufferPointer<UInt8>, literalEnd end: Int, table: UnsafePointer<UInt8>) -> Bool {
        var taken = 0
        var index = end
        while index < bytes.count {
            let bits = table[Int(bytes[index])]
            if bits & Self.inFirst != 0 && valueFollows(bytes, operatorAt: index, table: table) { return true }
            if taken == reach || bits & Self.inRun == 0 { return false }
            taken &+= 1
            index &+= 1
        }
        // End of the file: let the exact engine decide (rare, and an empty tail is its business).
        return true
    }

    /// Whether, for an operator starting at `start`, a value can follow within reach.
    @inline(__always) private func valueFollows(_ bytes: UnsafeBufferPointer<UInt8>, operatorAt start: Int, table: UnsafePointer<UInt8>) -> Bool {
        if value.count == 0 { return true }
        let last = start &+ value.window
        let end = last &+ value.count
        // Past the end of the file, or non-ASCII bytes where operator and runs are: no claim.
        if end > bytes.count { return true }
        var high: UInt8 = 0
        for index in start..<end { high |= bytes[index] }
        if high >= 0x80 { return true }
        // Enough value bytes in a row must begin by `last`.
        var run = 0
        var index = start &+ value.skip
        while index < end {
            if table[Int(bytes[index])] & Self.inValue != 0 {
                run &+= 1
                if run == value.count { return true }
            } else {
                if index >= last { return false }
                run = 0
            }
            index &+= 1
        }
        return false
    }

    /// The gate for `pattern` (a confirm regex that `leadingLiterals` accepts), or nil when its
    /// shape after the literal is not one this test understands (the rule is then tried at every
    /// literal, as before).
    static func derive(from pattern: String) -> AnchorGate? {
        guard let parsed = RegexItems.split(pattern), parsed.items.count >= 2 else { return nil }
        let scratch = ByteRegex.Scratch(groups: 0)
        var gate = AnchorGate()
        var items = parsed.items.dropFirst().map(\.unwrapped)[...]
        guard let reach = optionalRuns(&items, flags: parsed.flags, into: &gate.run, scratch: scratch), let mandatory = items.popFirst() else { return nil }
        gate.reach = reach
        // The first mandatory item: what can it begin with? (It must consume a character and read
        // nothing before its own start, so that asking it alone gives the same answer.)
        guard !mandatory.dependsOnContext, let body = try? ByteRegex(parsed.flags + "(?:" + mandatory.body + ")", anchored: true), body.minLength >= 1
        else { return nil }
        for byte in UInt8(0)..<128 where body.couldStart(with: byte, scratch: scratch) { gate.first.insert(byte) }
        gate.value = value(after: mandatory, minimum: body.minLength, rest: &items, flags: parsed.flags, scratch: scratch) ?? Value()
        return gate
    }

    /// Takes the leading optional single-character runs off `items`, adding what they accept to
    /// `set`; their total reach, or nil when one is unbounded or not a single character.
    private static func optionalRuns(_ items: inout ArraySlice<RegexItems.Item>, flags: String, into set: inout ByteSet, scratch: ByteRegex.Scratch) -> Int? {
        var reach = 0
        while let item = items.first, item.min == 0 {
            guard let max = item.max, item.isSingleCharacter, let body = try? ByteRegex(flags + item.body, anchored: true) else { return nil }
            for byte in UInt8(0)..<128 where body.couldStart(with: byte, scratch: scratch) { set.insert(byte) }
            reach += max
            if reach > 1024 { return nil }
            items.removeFirst()
        }
        return reach
    }

    /// The value stage after the operator `mandatory` (at least `minimum` characters per
    /// repetition), when the operator's width is bounded and a repeated single character follows
    /// the runs after it; nil otherwise (the gate then stops at the operator).
    private static func value(
        after mandatory: RegexItems.Item, minimum: Int, rest items: inout ArraySlice<RegexItems.Item>, flags: String, scratch: ByteRegex.Scratch
    ) -> Value? {
        guard let times = mandatory.max, let width = HyperscanDatabase.maxWidth(SecretScanner.hyperscanSyntax(flags + "(?:" + mandatory.body + ")")) else { return nil }
        var runs = ByteSet()
        guard let reach = optionalRuns(&items, flags: flags, into: &runs, scratch: scratch), let next = items.first, next.min >= 1, next.isSingleCharacter,
            let body = try? ByteRegex(flags + next.body, anchored: true)
        else { return nil }
        var value = Value()
        for byte in UInt8(0)..<128 where body.couldStart(with: byte, scratch: scratch) { value.bytes.insert(byte) }
        value.count = min(next.min, 256)
        value.skip = minimum * mandatory.min
        value.window = width * times + reach
        return value.window <= 1024 ? value : nil
    }
}

/// A regex split into its top-level items (each with its quantifier), for `AnchorGate`; nil for
/// anything with a top-level alternation, unbalanced brackets, or syntax this split does not know.
struct RegexItems {
    struct Item: Equatable {
        /// The item without its quantifier: a group, a class, an escape or one character.
        var body: String
        var min: Int
        /// nil: unbounded.
        var max: Int?

        /// A group without quantifier around a single item is that item (a capture does not
        /// change what matches).
        var unwrapped: Item {
            guard min == 1, max == 1, body.hasSuffix(")") else { return self }
            let open = body.hasPrefix("(?:") ? 3 : body.hasPrefix("(") && !body.hasPrefix("(?") ? 1 : 0
            guard open > 0, let inner = RegexItems.split(String(body.dropFirst(open).dropLast())), inner.flags.isEmpty, inner.items.count == 1
            else { return self }
            return inner.items[0].unwrapped
        }

        /// One character per repetition: a class, a character-type escape, `.` or a literal.
        var isSingleCharacter: Bool {
            let bytes = Array(body.utf8)
            if bytes.first == UInt8(ascii: "[") { return true }
            if bytes.count == 1 { return !"^$()|".utf8.contains(bytes[0]) }
            if bytes.count == 4, bytes[0] == UInt8(ascii: "\\"), bytes[1] == UInt8(ascii: "x") { return true }
            guard bytes.count == 2, bytes[0] == UInt8(ascii: "\\") else { return false }
            // Escapes of one character: types and controls; not anchors (\b \B \A \z \Z \G), \K or references.
            return "sSwWdDhHvVtnrfe".utf8.contains(bytes[1]) || !(Character(UnicodeScalar(bytes[1])).isLetter || Character(UnicodeScalar(bytes[1])).isNumber)
        }

        /// Whether the item may look outside the characters it matches (anchors, lookbehind,
        /// references, conditionals, verbs, recursion): then asking it alone proves nothing.
        var dependsOnContext: Bool {
            let bytes = Array(body.utf8)
            var index = 0
            var inClass = false
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\\"), index + 1 < bytes.count {
                    let next = bytes[index + 1]
                    if !inClass && "bBAzZGKgkR123456789".utf8.contains(next) { return true }
                    index += 2
                    continue
                }
                if inClass {
                    if byte == UInt8(ascii: "]") { inClass = false }
                } else if byte == UInt8(ascii: "[") {
                    inClass = true
                    // A `]` right after `[` or `[^` is a member, not the end.
                    if index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "^") { index += 1 }
                    if index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "]") { index += 1 }
                } else if byte == UInt8(ascii: "^") || byte == UInt8(ascii: "$") {
                    return true
                } else if byte == UInt8(ascii: "("), index + 2 < bytes.count {
                    let a = bytes[index + 1]
                    let b = bytes[index + 2]
                    if a == UInt8(ascii: "*") { return true }
                    if a == UInt8(ascii: "?") {
                        if "(R&C|P+-0123456789".utf8.contains(b) { return true }
                        if b == UInt8(ascii: "<"), index + 3 < bytes.count, "=!".utf8.contains(bytes[index + 3]) { return true }
                    }
                }
                index += 1
            }
            return false
        }
    }

    /// The leading inline flags (`(?i)`), kept for compiling items alone.
    var flags: String
    var items: [Item]

    static func split(_ pattern: String) -> RegexItems? {
        let bytes = Array(pattern.utf8)
        guard bytes.allSatisfy({ $0 < 0x80 }) else { return nil }
        var index = 0
        var flags = ""
        if let close = leadingFlagsEnd(bytes) {
            flags = String(decoding: bytes[0..<close], as: UTF8.self)
            index = close
        }
        var items: [Item] = []
        while index < bytes.count {
            guard let end = itemEnd(bytes, from: index) else { return nil }
            let body = String(decoding: bytes[index..<end], as: UTF8.self)
            guard let (min, max, next) = quantifier(bytes, at: end) else { return nil }
            items.append(Item(body: body, min: min, max: max))
            index = next
        }
        return RegexItems(flags: flags, items: items)
    }

    /// `(?i)`-style flags at the very start (only i, m, s, U, n: none changes how the rest parses).
    private static func leadingFlagsEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4, bytes[0] == UInt8(ascii: "("), bytes[1] == UInt8(ascii: "?") else { return nil }
        var index = 2
        while index < bytes.count, "imsUn".utf8.contains(bytes[index]) { index += 1 }
        guard index > 2, index < bytes.count, bytes[index] == UInt8(ascii: ")") else { return nil }
        return index + 1
    }

    /// Where the item starting at `start` ends (exclusive), quantifier not included.
    private static func itemEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        switch bytes[start] {
        case UInt8(ascii: "("): return groupEnd(bytes, from: start)
        case UInt8(ascii: "["): return classEnd(bytes, from: start)
        case UInt8(ascii: "\\"): return escapeEnd(bytes, from: start)
        case UInt8(ascii: "|"), UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?"), UInt8(ascii: "{"): return nil
        default: return start + 1
        }
    }

    private static func escapeEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        guard start + 1 < bytes.count else { return nil }
        let kind = bytes[start + 1]
        // \Q…\E quoting, \c controls and \N{…}, \o{…} forms are left to the caller's fallback.
        if "QEcNo".utf8.contains(kind) { return nil }
        if kind == UInt8(ascii: "x") || kind == UInt8(ascii: "p") || kind == UInt8(ascii: "P") {
            if start + 2 < bytes.count, bytes[start + 2] == UInt8(ascii: "{") {
                guard let close = bytes[(start + 2)...].firstIndex(of: UInt8(ascii: "}")) else { return nil }
                return close + 1
            }
            if kind == UInt8(ascii: "x") {
                var end = start + 2
                while end < bytes.count, end < start + 4, isHex(bytes[end]) { end += 1 }
                return end
            }
            return min(start + 3, bytes.count)
        }
        return start + 2
    }

    private static func isHex(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
            || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte)
    }

    private static func classEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        var index = start + 1
        if index < bytes.count, bytes[index] == UInt8(ascii: "^") { index += 1 }
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1 }
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\\"): index += 2
            case UInt8(ascii: "]"): return index + 1
            case UInt8(ascii: "[") where index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: ":"):
                // A POSIX class `[:alpha:]` inside the class.
                guard let close = firstIndex(of: ":]", in: bytes, from: index + 2) else { return nil }
                index = close + 2
            default: index += 1
            }
        }
        return nil
    }

    private static func groupEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        var depth = 0
        var index = start
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\\"):
                guard let end = escapeEnd(bytes, from: index) else { return nil }
                index = end
                continue
            case UInt8(ascii: "["):
                guard let end = classEnd(bytes, from: index) else { return nil }
                index = end
                continue
            case UInt8(ascii: "("): depth += 1
            case UInt8(ascii: ")"):
                depth -= 1
                if depth == 0 { return index + 1 }
            default: break
            }
            index += 1
        }
        return nil
    }

    /// The quantifier at `index` (none is {1,1}) and where the next item starts; nil for a `{`
    /// that is not a well-formed `{n}`, `{n,}` or `{n,m}`.
    private static func quantifier(_ bytes: [UInt8], at index: Int) -> (min: Int, max: Int?, next: Int)? {
        guard index < bytes.count else { return (1, 1, index) }
        var bounds: (Int, Int?)
        var next = index + 1
        switch bytes[index] {
        case UInt8(ascii: "?"): bounds = (0, 1)
        case UInt8(ascii: "*"): bounds = (0, nil)
        case UInt8(ascii: "+"): bounds = (1, nil)
        case UInt8(ascii: "{"):
            guard let close = bytes[index...].firstIndex(of: UInt8(ascii: "}")) else { return nil }
            let parts = String(decoding: bytes[(index + 1)..<close], as: UTF8.self).split(separator: ",", omittingEmptySubsequences: false)
            guard (1...2).contains(parts.count), let low = Int(parts[0]) else { return nil }
            if parts.count == 1 {
                bounds = (low, low)
            } else if parts[1].isEmpty {
                bounds = (low, nil)
            } else {
                guard let high = Int(parts[1]), high >= low else { return nil }
                bounds = (low, high)
            }
            next = close + 1
        default: return (1, 1, index)
        }
        // Lazy or possessive: same set of possible matches for the item alone.
        if next < bytes.count, bytes[next] == UInt8(ascii: "?") || bytes[next] == UInt8(ascii: "+") { next += 1 }
        return (bounds.0, bounds.1, next)
    }

    private static func firstIndex(of needle: String, in bytes: [UInt8], from start: Int) -> Int? {
        let n = Array(needle.utf8)
        var index = start
        while index + n.count <= bytes.count {
            if Array(bytes[index..<(index + n.count)]) == n { return index }
            index += 1
        }
        return nil
    }
}
