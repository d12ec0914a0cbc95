#if canImport(Glibc)
    import Glibc
#endif

/// Wall-clock timestamps for logs, as RFC 3339 UTC with milliseconds.
public enum WallClock {
    public static func rfc3339() -> String {
        let now = WallClock.now()
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        // Written digit by digit into one buffer: every log line carries a time.
        return String(unsafeUninitializedCapacity: 24) { out in
            var at = 0
            func put(_ value: Int, width: Int, then separator: Character) {
                var rest = value
                for position in stride(from: at + width - 1, through: at, by: -1) {
                    out[position] = UInt8(0x30 + rest % 10)
                    rest /= 10
                }
                out[at + width] = separator.asciiValue!
                at += width + 1
            }
            put(Int(parts.tm_year) + 1900, width: 4, then: "-")
            put(Int(parts.tm_mon) + 1, width: 2, then: "-")
            put(Int(parts.tm_mday), width: 2, then: "T")
            put(Int(parts.tm_hour), width: 2, then: ":")
            put(Int(parts.tm_min), width: 2, then: ":")
            put(Int(parts.tm_sec), width: 2, then: ".")
            put(now.tv_nsec / 1_000_000, width: 3, then: "Z")
            return at
        }
    }

    static func now() -> timespec {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return ts
    }

    /// Monotonic seconds, for durations.
    public static func monotonic() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
