import Synchronization

/// Sliding one-minute windows per rate-limit pattern.
final class RateLimiter: Sendable {
    private let now: @Sendable () -> Double
    private let windows = Mutex<[String: [Double]]>([:])

    init(now: @escaping @Sendable () -> Double) {
        self.now = now
    }

    /// Takes one slot for `key`; false when `perMinute` were already taken in the last 60 s.
    func take(_ key: String, perMinute: Int) -> Bool {
        let time = now()
        return windows.withLock { windows in
            var recent = windows[key, default: []].filter { time - $0 < 60 }
            guard recent.count < perMinute else {
                windows[key] = recent
                return false
            }
            recent.append(time)
            windows[key] = recent
            return true
        }
    }
}
