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
