#if canImport(Glibc)
    import Glibc
#endif

/// Times of the audit log: records carry RFC 3339 UTC with milliseconds (`WallClock.rfc3339`);
/// `cordon audit --since` takes an RFC 3339 time (any offset, fraction optional) or a duration
/// back from now (`90s`, `10m`, `2h`, `1d`).
public enum AuditTime {
    /// Milliseconds since the epoch of an RFC 3339 time; nil when `text` is not one.
    public static func milliseconds(rfc3339 text: String) -> Int? {
        let bytes = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[from..<from + count] {
                guard (0x30...0x39).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        func at(_ index: Int, _ characters: String) -> Bool {
            index < bytes.count && characters.utf8.contains(bytes[index])
        }
        guard let year = number(0, 4), at(4, "-"), let month = number(5, 2), at(7, "-"), let day = number(8, 2), at(10, "Tt "),
            let hour = number(11, 2), at(13, ":"), let minute = number(14, 2), at(16, ":"), let second = number(17, 2),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var millis = 0
        if at(index, ".") {
            index += 1
            var digits = 0
            while index < bytes.count, (0x30...0x39).contains(bytes[index]) {
                if digits < 3 { millis = millis * 10 + Int(bytes[index] - 0x30) }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 3) { millis *= 10 }
        }
        var offset = 0
        if at(index, "Zz") {
            index += 1
        } else if at(index, "+-"), let hours = number(index + 1, 2), at(index + 3, ":"), let minutes = number(index + 4, 2) {
            offset = (hours * 60 + minutes) * 60 * (bytes[index] == UInt8(ascii: "-") ? -1 : 1)
            index += 6
        } else {
            return nil
        }
        guard index == bytes.count else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let seconds = Int(timegm(&parts)) - offset
        return seconds * 1000 + millis
    }

    /// Milliseconds of a duration such as `90s`, `10m`, `2h`, `1d`; nil when `text` is not one.
    public static func milliseconds(duration text: String) -> Int? {
        guard let unit = text.last, let value = Int(text.dropLast()), value >= 0, value < 100 * 365 * 86400 else { return nil }
        switch unit {
        case "s": return value * 1000
        case "m": return value * 60_000
        case "h": return value * 3_600_000
        case "d": return value * 86_400_000
        default: return nil
        }
    }

    /// Now, in milliseconds since the epoch.
    public static func nowMilliseconds() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int(ts.tv_sec) * 1000 + Int(ts.tv_nsec) / 1_000_000
    }

    /// The start of `--since`'s window: an RFC 3339 time, or now minus a duration; nil when
    /// `text` is neither.
    public static func since(_ text: String, now: Int = nowMilliseconds()) -> Int? {
        if let duration = milliseconds(duration: text) { return now - duration }
        return milliseconds(rfc3339: text)
    }
}
