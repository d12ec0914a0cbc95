#if canImport(Glibc)
    import Glibc
#endif

/// Why a piece of `egress` text is refused: one sentence, without the field or the text's
/// position (the caller adds those).
public struct PolicyProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    /// The text is an IPv4 address in a refused spelling (octal, hex, integer, shorthand).
    public var isAddressSpelling: Bool

    public init(_ message: String, isAddressSpelling: Bool = false) {
        self.message = message
        self.isAddressSpelling = isAddressSpelling
    }

    public var description: String { message }
}

/// An IPv4 or IPv6 address as plain integers, so policy checks are pure arithmetic.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(UInt32)
    /// The 128 bits as two big-endian halves.
    case v6(UInt64, UInt64)

    /// Parses a strict literal: dotted-quad IPv4 or any RFC 4291 IPv6 text, with or without brackets.
    public init?(_ text: String) {
        var text = Substring(text)
        if text.hasPrefix("["), text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        if text.contains(":") {
            guard !text.contains("%"), let value = IPAddress.parseV6(String(text)) else { return nil }
            self = value
        } else {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 4 else { return nil }
            var value: UInt32 = 0
            for part in parts {
                guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCIIDigit), let byte = UInt8(part),
                    !(part.count > 1 && part.first == "0")
                else { return nil }
                value = value << 8 | UInt32(byte)
            }
            self = .v4(value)
        }
    }

    /// A strict literal, or why `text` is not one. An IPv4 address spelled any way but the
    /// dotted-quad decimal one (leading zeros, octal, hex, integer, fewer than four parts) is
    /// refused with the reason: resolvers read those forms differently (`010.0.0.1` is 8.0.0.1 to
    /// inet_aton, 10.0.0.1 to a person), so cordon accepts exactly one spelling, everywhere.
    public static func parse(_ text: String) -> Result<IPAddress, PolicyProblem> {
        if let strict = IPAddress(text) { return .success(strict) }
        if let problem = spellingProblem(text) { return .failure(problem) }
        var bare = Substring(text)
        if bare.hasPrefix("["), bare.hasSuffix("]") { bare = bare.dropFirst().dropLast() }
        if bare.contains(":") {
            if bare.contains("%") { return .failure(PolicyProblem("\"\(text)\" has an IPv6 zone (\"%\"); write the address without it")) }
            return .failure(PolicyProblem("\"\(text)\" is not an IPv6 address"))
        }
        return .failure(PolicyProblem("\"\(text)\" is not an IP address (write four decimal parts 0–255, e.g. 10.0.0.1, or an IPv6 address)"))
    }

    /// Why `text` is an IPv4 address in a spelling cordon refuses (a form `inet_aton` reads as an
    /// address, but not dotted-quad decimal), or nil. A trailing dot is ignored, as for names.
    public static func spellingProblem(_ text: String) -> PolicyProblem? {
        var body = Substring(text.lowercased())
        if body.hasSuffix(".") { body = body.dropLast() }
        let plain = String(body)
        guard IPAddress(plain) == nil else { return nil }
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        let decimalParts = parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) }
        let leadingZero = parts.contains { $0.count > 1 && $0.first == "0" && !$0.hasPrefix("0x") }
        // Four decimal parts with a leading zero: a person reads decimal, inet_aton reads octal.
        if decimalParts, parts.count == 4, leadingZero {
            let asDecimal = parts.compactMap { Int($0) }
            let decimalText = asDecimal.allSatisfy { $0 <= 255 } ? asDecimal.map(String.init).joined(separator: ".") : nil
            let octalText = IPAddress(lenientLiteral: plain)?.description
            var choices: [String] = []
            for choice in [decimalText, octalText].compactMap({ $0 }) where !choices.contains(choice) { choices.append(choice) }
            let write = choices.isEmpty ? "write four decimal parts 0–255" : "write " + choices.joined(separator: " or ")
            return PolicyProblem("\(text): leading zero — octal forms are ambiguous, \(write)", isAddressSpelling: true)
        }
        guard let address = IPAddress(lenientLiteral: plain) else { return nil }
        let form: String
        if parts.contains(where: { $0.hasPrefix("0x") }) {
            form = "hex form"
        } else if leadingZero {
            form = "leading zero — octal forms are ambiguous"
        } else if parts.count == 1 {
            form = "integer form"
        } else {
            form = "shorthand with \(parts.count) parts"
        }
        return PolicyProblem("\(text): \(form) of an IPv4 address, which resolvers read differently; write \(address)", isAddressSpelling: true)
    }

    /// Parses what a resolver would accept as an address: the strict forms plus the inet_aton
    /// shorthand (`2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`). Only to recognise such text:
    /// `parse` and `Host` refuse these spellings, saying why.
    public init?(lenientLiteral text: String) {
        if let strict = IPAddress(text) {
            self = strict
            return
        }
        var text = Substring(text)
        if text.hasSuffix(".") { text = text.dropLast() }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...4).contains(parts.count) else { return nil }
        var numbers: [UInt64] = []
        for part in parts {
            guard let number = IPAddress.parseNumber(part) else { return nil }
            numbers.append(number)
        }
        var value: UInt64 = 0
        for (index, number) in numbers.enumerated() {
            if index == numbers.count - 1 {
                let remainingBytes = 4 - index
                guard number < (UInt64(1) << (8 * UInt64(remainingBytes))) else { return nil }
                value = value << (8 * UInt64(remainingBytes)) | number
            } else {
                guard number <= 0xFF else { return nil }
                value = value << 8 | number
            }
        }
        self = .v4(UInt32(value))
    }

    private static func parseNumber(_ part: Substring) -> UInt64? {
        guard !part.isEmpty, part.count <= 32 else { return nil }
        let lower = part.lowercased()
        if lower.hasPrefix("0x") {
            let digits = lower.dropFirst(2)
            return digits.isEmpty ? 0 : UInt64(digits, radix: 16)
        }
        if lower.count > 1, lower.hasPrefix("0") { return UInt64(lower.dropFirst(), radix: 8) }
        guard lower.allSatisfy(\.isASCIIDigit) else { return nil }
        return UInt64(lower)
    }

    private static func parseV6(_ text: String) -> IPAddress? {
        var bytes = [UInt8](repeating: 0, count: 16)
        guard bytes.withUnsafeMutableBytes({ inet_pton(AF_INET6, text, $0.baseAddress) }) == 1 else { return nil }
        return IPAddress(bytes: bytes)
    }

    /// From 4 or 16 network-order bytes.
    public init?(bytes: [UInt8]) {
        switch bytes.count {
        case 4:
            self = .v4(bytes.reduce(0) { $0 << 8 | UInt32($1) })
        case 16:
            let hi = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let lo = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            self = .v6(hi, lo)
        default:
            return nil
        }
    }

    /// Network-order bytes.
    public var bytes: [UInt8] {
        switch self {
        case .v4(let v): return (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * UInt32($0))) }
        case .v6(let hi, let lo):
            return (0..<8).map { UInt8(truncatingIfNeeded: hi >> (56 - 8 * UInt64($0))) }
                + (0..<8).map { UInt8(truncatingIfNeeded: lo >> (56 - 8 * UInt64($0))) }
        }
    }

    public var isIPv6: Bool {
        if case .v6 = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .v4(let v):
            return "\(v >> 24).\(v >> 16 & 0xFF).\(v >> 8 & 0xFF).\(v & 0xFF)"
        case .v6:
            let raw = bytes
            var out = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            let ok = raw.withUnsafeBytes { inet_ntop(AF_INET6, $0.baseAddress, &out, socklen_t(out.count)) != nil }
            guard ok else { return "::" }
            return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// The form used in URLs and authorities: IPv6 in brackets.
    public var hostLiteral: String { isIPv6 ? "[\(description)]" : description }
}

/// An address block such as `10.0.0.0/8` or `fd00::/8`.
public struct CIDR: Hashable, Sendable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    public init?(_ text: String) {
        guard case .success(let cidr) = CIDR.parse(text) else { return nil }
        self = cidr
    }

    /// `10.0.0.0/8`, `fd00::/8`; a bare address is a single host. The failure says what is wrong.
    public static func parse(_ text: String) -> Result<CIDR, PolicyProblem> {
        let pieces = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let addressText = String(pieces[0])
        let address: IPAddress
        switch IPAddress.parse(addressText) {
        case .success(let parsed): address = parsed
        case .failure(let problem): return .failure(problem)
        }
        let maximum = address.isIPv6 ? 128 : 32
        var length = maximum
        if pieces.count == 2 {
            guard let parsed = decimal(pieces[1]), (0...maximum).contains(parsed) else {
                return .failure(PolicyProblem("has prefix length \"\(pieces[1])\"; expected 0–\(maximum)"))
            }
            length = parsed
        }
        return .success(CIDR(address: address, prefixLength: length))
    }

    /// Nil when `text` is a CIDR, else what is wrong with it.
    public static func problem(_ text: String) -> String? {
        if case .failure(let problem) = parse(text) { return problem.message }
        return nil
    }

    private static func decimal(_ digits: Substring) -> Int? {
        guard !digits.isEmpty, digits.count <= 3, digits.allSatisfy(\.isASCIIDigit) else { return nil }
        return Int(digits)
    }

    public init(address: IPAddress, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    public func contains(_ candidate: IPAddress) -> Bool {
        switch (address, candidate) {
        case (.v4(let base), .v4(let other)):
            guard prefixLength > 0 else { return true }
            let mask = prefixLength >= 32 ? UInt32.max : ~(UInt32.max >> UInt32(prefixLength))
            return base & mask == other & mask
        case (.v6(let baseHi, let baseLo), .v6(let hi, let lo)):
            let hiBits = min(prefixLength, 64)
            let loBits = max(prefixLength - 64, 0)
            let hiMask = hiBits == 0 ? 0 : (hiBits >= 64 ? UInt64.max : ~(UInt64.max >> UInt64(hiBits)))
            let loMask = loBits == 0 ? 0 : (loBits >= 64 ? UInt64.max : ~(UInt64.max >> UInt64(loBits)))
            return baseHi & hiMask == hi & hiMask && baseLo & loMask == lo & loMask
        default:
            return false
        }
    }

    public var description: String { "\(address)/\(prefixLength)" }
}

extension Character {
    package var isASCIIDigit: Bool { isASCII && isNumber }
}
