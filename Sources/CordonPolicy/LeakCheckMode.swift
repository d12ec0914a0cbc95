/// What the proxy does when the outbound leak check finds a secret in an intercepted request body
/// (the profile's `egress.dlp`).
public enum LeakCheckMode: String, Sendable, Equatable, Codable, CaseIterable, Comparable {
    /// Request bodies are not scanned.
    case off
    /// A finding is logged as an alert with the rule and the domain; the request goes on.
    case alert
    /// A finding is logged and the request refused before any of its body leaves.
    case block

    /// What a profile that does not say gets.
    public static let `default` = LeakCheckMode.alert

    private var rank: Int {
        switch self {
        case .off: 0
        case .alert: 1
        case .block: 2
        }
    }

    /// Stricter modes compare greater: where layers disagree, the stricter wins.
    public static func < (a: LeakCheckMode, b: LeakCheckMode) -> Bool { a.rank < b.rank }
}

/// `egress.dlp` with whether a profile layer wrote it. Merging needs to know (a later layer may
/// change the default but not weaken a mode an earlier layer wrote); nothing else does, so two
/// settings with the same mode are equal, and the JSON form is the mode alone.
public struct LeakCheckSetting: Sendable, Equatable, Codable {
    public var mode: LeakCheckMode
    public var written: Bool

    public init(mode: LeakCheckMode = .default, written: Bool = false) {
        self.mode = mode
        self.written = written
    }

    /// This setting with `layer`'s mode merged in: the first written mode, then the stricter.
    public func merged(with layer: LeakCheckMode) -> LeakCheckSetting {
        LeakCheckSetting(mode: written ? max(mode, layer) : layer, written: true)
    }

    public static func == (a: LeakCheckSetting, b: LeakCheckSetting) -> Bool { a.mode == b.mode }

    /// A stored configuration's mode counts as written: it was chosen when the profile was loaded.
    public init(from decoder: any Decoder) throws {
        self.init(mode: try decoder.singleValueContainer().decode(LeakCheckMode.self), written: true)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(mode)
    }
}
