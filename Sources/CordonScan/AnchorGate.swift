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
        guard let times = mandatory.max, let width = HyperscanDatabase.maxWidth(SecretScanner.hyperscanSyntax(flags + "(?:" + mandatory.body + ")")) else {
            return nil
        }
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
