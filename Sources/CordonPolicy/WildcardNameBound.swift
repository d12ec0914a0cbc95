public import CordonCore
import Glibc
import Synchronization

/// Bounds the names resolved under an allowed wildcard (`.github.com`, `*.example.com`): every
/// such name goes to the host's resolver and on to the domain's authoritative servers, so the
/// labels below the wildcard are a channel out of the sandbox (DNS exfiltration). Per sandbox and
/// per wildcard: at most `namesPerMinute` distinct names in a minute (a name seen this minute is
/// free again), no label longer than `maxLabelLength` and no more than twice that below the
/// wildcard, and no part below the wildcard of 16 characters or more whose Shannon entropy per
/// character exceeds `maxEntropy` (random-looking encodings: base32, base64). Hex stays under a
/// 4-bit threshold: the unique-name bound is what limits it. Past a bound the name is refused.
public final class WildcardNameBound: Sendable {
    public struct Limits: Sendable, Equatable, Codable {
        public var namesPerMinute: Int
        public var maxLabelLength: Int
        public var maxEntropy: Double

        public static let defaultNamesPerMinute = 120
        public static let defaultMaxLabelLength = 40
        public static let defaultMaxEntropy = 4.0

        public init(
            namesPerMinute: Int = Limits.defaultNamesPerMinute, maxLabelLength: Int = Limits.defaultMaxLabelLength,
            maxEntropy: Double = Limits.defaultMaxEntropy
        ) {
            self.namesPerMinute = namesPerMinute
            self.maxLabelLength = maxLabelLength
            self.maxEntropy = maxEntropy
        }
    }

    public let limits: Limits
    private let now: @Sendable () -> Double
    /// Per wildcard: when its minute started and the names seen in it.
    private let windows = Mutex<[String: (start: Double, names: Set<String>)]>([:])

    public init(_ limits: Limits = Limits(), now: @escaping @Sendable () -> Double = { WallClock.monotonic() }) {
        self.limits = limits
        self.now = now
    }

    /// Why `name`, allowed by `pattern`, is refused; nil when it passes (and is then counted).
    /// Exact patterns and the wildcard's own apex are not bounded.
    public func check(name: String, pattern: DomainPattern) -> String? {
        guard pattern.kind == .subdomains || pattern.kind == .apexAndSubdomains, let base = pattern.host.name, name != base, name.hasSuffix("." + base) else {
            return nil
        }
        let below = name.dropLast(base.count + 1)
        let labels = below.split(separator: ".", omittingEmptySubsequences: false)
        if let long = labels.first(where: { $0.utf8.count > limits.maxLabelLength }) {
            return "label \(long.prefix(20))… of \(long.utf8.count) characters under \(pattern) exceeds \(limits.maxLabelLength) (possible DNS exfiltration)"
        }
        if below.utf8.count > 2 * limits.maxLabelLength {
            return "\(below.utf8.count) characters below \(pattern) exceed \(2 * limits.maxLabelLength) (possible DNS exfiltration)"
        }
        let letters = below.utf8.filter { $0 != UInt8(ascii: ".") }
        if letters.count >= 16 {
            let entropy = Self.entropy(letters)
            if entropy > limits.maxEntropy {
                let shown = (entropy * 100).rounded() / 100
                return "labels below \(pattern) look random (entropy \(shown) bits per character > \(limits.maxEntropy); possible DNS exfiltration)"
            }
        }
        let key = pattern.description
        let time = now()
        let limit = limits.namesPerMinute
        return windows.withLock { windows in
            var window = windows[key] ?? (time, [])
            if time - window.start >= 60 { window = (time, []) }
            defer { windows[key] = window }
            if window.names.contains(name) { return nil }
            guard window.names.count < limit else {
                return "more than \(limit) distinct names under \(pattern) in a minute (egress.dns_names_per_minute; possible DNS exfiltration)"
            }
            window.names.insert(name)
            return nil
        }
    }

    /// Shannon entropy in bits per character (case-folded: DNS names are case-insensitive).
    static func entropy(_ bytes: [UInt8]) -> Double {
        var counts: [UInt8: Int] = [:]
        for byte in bytes { counts[(0x41...0x5A).contains(byte) ? byte | 0x20 : byte, default: 0] += 1 }
        let total = Double(bytes.count)
        return counts.values.reduce(0) { sum, count in
            let p = Double(count) / total
            return sum - p * log2(p)
        }
    }
}
