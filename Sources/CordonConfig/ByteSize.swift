/// Sizes as written in profiles: `1024` (bytes), `512k`, `512m`, `2g`, `1.5G`, `1t`, with an
/// optional `b`/`ib` suffix (`512MiB`). Units are binary (1k = 1024).
enum ByteSize {
    static let expected = "a size such as 1024, 512m, 2g or 1.5G"

    static func parse(_ text: String) -> UInt64? {
        var body = text.trimmedSpaces.lowercased()
        for suffix in ["ib", "b"] where body.hasSuffix(suffix) && body.count > suffix.count {
            body.removeLast(suffix.count)
            break
        }
        var multiplier: Double = 1
        if let unit = body.last, let power = "kmgt".firstIndex(of: unit) {
            multiplier = pow1024("kmgt".distance(from: "kmgt".startIndex, to: power) + 1)
            body.removeLast()
        }
        guard !body.isEmpty, body.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
            let number = Double(body), number > 0
        else { return nil }
        let bytes = (number * multiplier).rounded()
        guard bytes >= 1, bytes < 1.8e19 else { return nil }
        return UInt64(bytes)
    }

    /// The shortest exact spelling: `4g`, `512m`, else plain bytes.
    static func format(_ bytes: UInt64) -> String {
        for (unit, power) in [("t", 4), ("g", 3), ("m", 2), ("k", 1)] {
            let scale = UInt64(pow1024(power))
            if bytes >= scale && bytes % scale == 0 { return "\(bytes / scale)\(unit)" }
        }
        return String(bytes)
    }

    private static func pow1024(_ n: Int) -> Double {
        var value: Double = 1
        for _ in 0..<n { value *= 1024 }
        return value
    }
}

/// Durations as written in profiles: `30s`, `2m`, `1h`, `500ms`, `1.5s`; a plain number is seconds.
enum TimeSpan {
    static let expected = "a duration such as 30s, 2m, 1h or 500ms"

    static func parse(_ text: String) -> Double? {
        let body = text.trimmedSpaces.lowercased()
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        var number = Substring(body)
        var scale: Double = 1
        for (unit, value) in units where body.hasSuffix(unit) {
            number = body.dropLast(unit.count)
            scale = value
            break
        }
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
            let value = Double(number), value > 0
        else { return nil }
        return value * scale
    }

    static func format(_ seconds: Double) -> String {
        if seconds >= 3600, seconds.truncatingRemainder(dividingBy: 3600) == 0 { return "\(Int(seconds / 3600))h" }
        if seconds >= 60, seconds.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(seconds / 60))m" }
        if seconds.rounded() == seconds { return "\(Int(seconds))s" }
        let millis = seconds * 1000
        if millis.rounded() == millis { return "\(Int(millis))ms" }
        return "\(seconds)s"
    }
}

extension String {
    var trimmedSpaces: String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
