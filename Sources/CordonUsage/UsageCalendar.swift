#if canImport(Glibc)
    import Glibc
#endif

/// Times of the usage ledger: RFC 3339 UTC (`WallClock.rfc3339`), and the UTC day and month a
/// budget's window is. Days and months are UTC everywhere in usage, so a budget resets at the
/// same moment for every reader whatever its time zone.
public enum UsageCalendar {
    /// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS[.fff]Z` (what cordon writes); nil otherwise.
    public static func seconds(rfc3339 text: String) -> Int? {
        let b = Array(text.utf8)
        guard b.count >= 20, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), b[10] == UInt8(ascii: "T"), b[13] == UInt8(ascii: ":"),
            b[16] == UInt8(ascii: ":"), b.last == UInt8(ascii: "Z"), let day = seconds(date: b[0..<10]),
            let hour = number(b[11..<13]), let minute = number(b[14..<16]), let second = number(b[17..<19]), hour < 24, minute < 60, second < 61
        else { return nil }
        if b.count > 20 {
            guard b[19] == UInt8(ascii: "."), b.count > 21, number(b[20..<(b.count - 1)]) != nil else { return nil }
        }
        return day + hour * 3600 + minute * 60 + second
    }

    /// Seconds since the epoch of a date `YYYY-MM-DD` at 00:00 UTC.
    public static func seconds(date text: String) -> Int? {
        let b = Array(text.utf8)
        return b.count == 10 ? seconds(date: b[0..<10]) : nil
    }

    private static func seconds(date b: ArraySlice<UInt8>) -> Int? {
        let s = b.startIndex
        guard b[s + 4] == UInt8(ascii: "-"), b[s + 7] == UInt8(ascii: "-"), let year = number(b[s..<s + 4]), let month = number(b[s + 5..<s + 7]),
            let day = number(b[s + 8..<s + 10]), (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day)
        else { return nil }
        return days(year: year, month: month, day: day) * 86400
    }

    private static func number(_ digits: ArraySlice<UInt8>) -> Int? {
        guard !digits.isEmpty, digits.count <= 9 else { return nil }
        var value = 0
        for d in digits {
            guard (0x30...0x39).contains(d) else { return nil }
            value = value * 10 + Int(d - 0x30)
        }
        return value
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil).
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    /// The UTC day `seconds` falls on (days since the epoch).
    public static func day(_ seconds: Int) -> Int { seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400 }

    /// The UTC month `seconds` falls in, as `year * 12 + month - 1`.
    public static func month(_ seconds: Int) -> Int {
        // civil_from_days, the year and month only.
        let z = day(seconds) + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        return year * 12 + month - 1
    }

    /// `seconds` as RFC 3339 UTC without fraction (`2026-12-01T00:00:00Z`).
    public static func rfc3339(_ seconds: Int) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }
}
