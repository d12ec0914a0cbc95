import Synchronization

/// The answer to "may this sandbox reach host:port?" when `prompt` is on.
public enum ApprovalAnswer: Sendable, Equatable {
    case allowOnce
    /// The provider persists it (the profile's approval file); the proxy remembers it for this run.
    case allowAlways
    case deny
}

/// Asks a human (terminal, `cordon approvals`) about an unlisted host. Implementations should
/// answer `.deny` on their own timeout; the proxy also applies one.
public protocol ApprovalProvider: Sendable {
    func decide(host: String, port: Int) async -> ApprovalAnswer
}

/// Approvals given during this run, by exact host and port: approving `example.com` does not
/// cover `api.example.com`.
final class ApprovalMemory: Sendable {
    private let granted = Mutex<[String: ApprovalAnswer]>([:])

    func answer(host: String, port: Int) -> ApprovalAnswer? { granted.withLock { $0["\(host):\(port)"] } }

    func remember(_ answer: ApprovalAnswer, host: String, port: Int) {
        granted.withLock { $0["\(host):\(port)"] = answer }
    }
}

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
