/// Reads one JSON document fed in pieces of any size and keeps only the scalars at the paths it
/// is asked for (`usage.prompt_tokens`), so a response of any length is read in constant memory:
/// the nesting (at most `maximumDepth` levels), the current key (at most `keyLimit` bytes) and a
/// wanted string (at most `valueLimit` bytes) are all it holds.
///
/// A path joins object keys with `.`; an element of a nested array is `[]` (never wanted), while
/// the elements of a top-level array (Gemini's streamed JSON) are read as top-level documents,
/// the last one's value winning. Text inside strings never counts as structure, so a model's
/// output that spells `"usage": {…}` does not forge usage.
struct JSONFieldScanner {
    enum Scalar: Equatable, Sendable {
        case int(Int)
        case string(String)
    }

    static let maximumDepth = 64
    static let keyLimit = 64
    static let valueLimit = 256

    let wanted: Set<String>
    /// The deepest wanted path, in keys: values deeper are not looked up.
    private let wantedDepth: Int
    private(set) var captured: [String: Scalar] = [:]
    /// Set at the first byte that is not JSON; nothing more is read.
    private(set) var failed = false

    private enum State {
        case value(allowClose: Bool)
        case key(allowClose: Bool)
        case colon
        case afterValue
        case string(isKey: Bool)
        case number
        case literal
        case done
    }

    private var state = State.value(allowClose: false)
    /// Per open container: true for an object. `keys` holds each object's current key (nil for
    /// arrays, and for a key longer than `keyLimit`, which no wanted path has).
    private var isObject: [Bool] = []
    private var keys: [String?] = []
    private var text: [UInt8] = []
    private var overflow = false
    private var capturing: String?
    /// In a string: 0 plain, 1 after `\`, 2…5 reading `\u` hex digits.
    private var escape = 0
    private var unicode: UInt32 = 0
    private var literalRest: ArraySlice<UInt8> = []
    private var isFloat = false

    init(wanted: Set<String>) {
        self.wanted = wanted
        self.wantedDepth = wanted.map { $0.split(separator: ".").count }.max() ?? 0
    }

    /// Bytes held beyond the fixed state (for the memory bound's test).
    var retainedBytes: Int { text.capacity + keys.reduce(0) { $0 + ($1?.utf8.count ?? 0) } }

    /// Whether a whole JSON value was read and nothing but whitespace followed.
    var isComplete: Bool {
        if case .done = state { return !failed }
        return false
    }

    mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        var index = 0
        let count = bytes.count
        while index < count {
            if failed { return }
            // The bulk of a response is text no one reads: walk to the string's next quote,
            // backslash or control byte without stepping the state machine.
            if case .string(isKey: false) = state, capturing == nil, escape == 0 {
                while index < count {
                    let b = bytes[index]
                    if b == 0x22 || b == 0x5C || b < 0x20 { break }
                    index += 1
                }
                if index == count { return }
            }
            step(bytes[index])
            index += 1
        }
    }

    /// One byte (the event stream's line joins).
    mutating func feed(byte: UInt8) {
        if !failed { step(byte) }
    }

    mutating func feed(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { feed($0) }
    }

    /// The end of the input: a top-level number has no terminator but this.
    mutating func finish() {
        if case .number = state, isObject.isEmpty { endNumber() }
    }

    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }

    private mutating func step(_ b: UInt8) {
        switch state {
        case .value(let allowClose):
            if Self.isSpace(b) { return }
            switch b {
            case UInt8(ascii: "{"): open(object: true)
            case UInt8(ascii: "["): open(object: false)
            case UInt8(ascii: "]") where allowClose && isObject.last == false: close()
            case UInt8(ascii: "\""): startString(isKey: false)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                capturing = currentPath()
                text.removeAll(keepingCapacity: true)
                text.append(b)
                isFloat = false
                state = .number
            case UInt8(ascii: "t"): startLiteral("rue")
            case UInt8(ascii: "f"): startLiteral("alse")
            case UInt8(ascii: "n"): startLiteral("ull")
            default: failed = true
            }
        case .key(let allowClose):
            if Self.isSpace(b) { return }
            if b == UInt8(ascii: "\"") {
                startString(isKey: true)
            } else if b == UInt8(ascii: "}") && allowClose {
                close()
            } else {
                failed = true
            }
        case .colon:
            if Self.isSpace(b) { return }
            if b == UInt8(ascii: ":") { state = .value(allowClose: false) } else { failed = true }
        case .afterValue:
            if Self.isSpace(b) { return }
            guard let top = isObject.last else { failed = true; return }
            switch b {
            case UInt8(ascii: ","): state = top ? .key(allowClose: false) : .value(allowClose: false)
            case UInt8(ascii: "}") where top: close()
            case UInt8(ascii: "]") where !top: close()
            default: failed = true
            }
        case .string(let isKey): stringByte(b, isKey: isKey)
        case .number:
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"):
                append(b, limit: 40)
            case UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"):
                isFloat = true
                append(b, limit: 40)
            default:
                endNumber()
                if !failed { step(b) }
            }
        case .literal:
            guard let expected = literalRest.first, expected == b else { failed = true; return }
            literalRest = literalRest.dropFirst()
            if literalRest.isEmpty { endValue(nil) }
        case .done:
            if !Self.isSpace(b) { failed = true }
        }
    }

    private mutating func open(object: Bool) {
        guard isObject.count < Self.maximumDepth else { failed = true; return }
        isObject.append(object)
        keys.append(nil)
        state = object ? .key(allowClose: true) : .value(allowClose: true)
    }

    private mutating func close() {
        isObject.removeLast()
        keys.removeLast()
        endValue(nil)
    }

    private mutating func startLiteral(_ rest: StaticString) {
        literalRest = ArraySlice(UnsafeBufferPointer(start: rest.utf8Start, count: rest.utf8CodeUnitCount))
        state = .literal
    }

    private mutating func startString(isKey: Bool) {
        capturing = isKey ? nil : currentPath()
        text.removeAll(keepingCapacity: true)
        overflow = false
        escape = 0
        state = .string(isKey: isKey)
    }

    /// The wanted path the next value sits at, or nil when it is not wanted.
    private func currentPath() -> String? {
        var parts: [String] = []
        for (index, object) in isObject.enumerated() {
            if object {
                guard let key = keys[index] else { return nil }
                parts.append(key)
            } else if index > 0 {
                return nil
            }
            if parts.count > wantedDepth { return nil }
        }
        let path = parts.joined(separator: ".")
        return wanted.contains(path) ? path : nil
    }

    private mutating func append(_ b: UInt8, limit: Int) {
        if text.count < limit { text.append(b) } else { overflow = true }
    }

    private mutating func appendScalar(_ value: UInt32, limit: Int) {
        let scalar = Unicode.Scalar(value) ?? "\u{FFFD}"
        for unit in String(Character(scalar)).utf8 { append(unit, limit: limit) }
    }

    private mutating func stringByte(_ b: UInt8, isKey: Bool) {
        // Only keys and wanted values are kept; other strings are only walked through.
        let keep = isKey || capturing != nil
        let limit = isKey ? Self.keyLimit : Self.valueLimit
        switch escape {
        case 0:
            if b == UInt8(ascii: "\"") {
                endString(isKey: isKey)
            } else if b == UInt8(ascii: "\\") {
                escape = 1
            } else if b < 0x20 {
                failed = true
            } else if keep {
                append(b, limit: limit)
            }
        case 1:
            let decoded: UInt8?
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded = b
            case UInt8(ascii: "b"): decoded = 0x08
            case UInt8(ascii: "f"): decoded = 0x0C
            case UInt8(ascii: "n"): decoded = 0x0A
            case UInt8(ascii: "r"): decoded = 0x0D
            case UInt8(ascii: "t"): decoded = 0x09
            case UInt8(ascii: "u"):
                escape = 2
                unicode = 0
                return
            default:
                failed = true
                return
            }
            if keep, let decoded { append(decoded, limit: limit) }
            escape = 0
        default:
            guard let digit = Self.hexValue(b) else { failed = true; return }
            unicode = unicode << 4 | digit
            escape += 1
            if escape == 6 {
                // A surrogate half stands alone here: it becomes U+FFFD (no key or value cordon
                // reads has one).
                if keep { appendScalar(unicode, limit: limit) }
                escape = 0
            }
        }
    }

    private static func hexValue(_ b: UInt8) -> UInt32? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(b - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(b - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(b - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    private mutating func endString(isKey: Bool) {
        if isKey {
            keys[keys.count - 1] = overflow ? nil : String(decoding: text, as: UTF8.self)
            state = .colon
        } else {
            endValue(overflow ? nil : .string(String(decoding: text, as: UTF8.self)))
        }
    }

    private mutating func endNumber() {
        let literal = String(decoding: text, as: UTF8.self)
        var value: Scalar?
        if overflow {
            value = nil
        } else if !isFloat, let int = Int(literal) {
            value = .int(int)
        } else if let double = Double(literal), double.isFinite {
            value = double == double.rounded() && abs(double) < 1e15 ? .int(Int(double)) : nil
        } else {
            failed = true
            return
        }
        overflow = false
        endValue(value)
    }

    private mutating func endValue(_ value: Scalar?) {
        if let path = capturing {
            if let value { captured[path] = value } else { captured.removeValue(forKey: path) }
        }
        capturing = nil
        overflow = false
        state = isObject.isEmpty ? .done : .afterValue
    }
}
