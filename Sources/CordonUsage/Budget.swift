/// A token budget from a profile's `usage.budgets`: `tokens` per UTC day, per UTC month or in
/// total, for one provider or for all (`provider` nil). Input and output tokens both count.
public struct Budget: Sendable, Equatable, Codable {
    public enum Period: String, Sendable, Equatable, Codable, CaseIterable {
        case day, month, total

        /// How a message says it: `daily`, `monthly`, `total`.
        public var adjective: String {
            switch self {
            case .day: "daily"
            case .month: "monthly"
            case .total: "total"
            }
        }
    }

    /// The largest budget a profile may write (10^15 tokens: no arithmetic on it can overflow).
    public static let maximumTokens = 1_000_000_000_000_000

    public var tokens: Int
    public var per: Period
    public var provider: String?

    public init(tokens: Int, per: Period, provider: String? = nil) {
        self.tokens = tokens
        self.per = per
        self.provider = provider
    }

    /// Whether requests to `provider` count against it.
    public func covers(_ provider: String) -> Bool { self.provider == nil || self.provider == provider }

    /// Its name in messages: `the daily budget for openai`, `the monthly budget (all providers)`.
    public var label: String {
        "the \(per.adjective) budget " + (provider.map { "for \($0)" } ?? "(all providers)")
    }
}

/// A profile's budgets and the thresholds they apply: a notice at `warnAt` percent, new requests
/// refused (HTTP 429) from `blockAt` percent.
public struct BudgetSettings: Sendable, Equatable, Codable {
    public static let defaultWarnAt = 80
    public static let defaultBlockAt = 95

    public var budgets: [Budget]
    public var warnAt: Int
    public var blockAt: Int

    public init(budgets: [Budget] = [], warnAt: Int = defaultWarnAt, blockAt: Int = defaultBlockAt) {
        self.budgets = budgets
        self.warnAt = warnAt
        self.blockAt = blockAt
    }
}

/// A profile's `usage` section: providers added to the built-in catalogue, and budgets.
public struct UsageSettings: Sendable, Equatable, Codable {
    public var providers: [UsageProvider]
    public var budgets: BudgetSettings

    public init(providers: [UsageProvider] = [], budgets: BudgetSettings = BudgetSettings()) {
        self.providers = providers
        self.budgets = budgets
    }

    /// The built-in catalogue with this profile's providers.
    public var catalogue: ProviderCatalogue { ProviderCatalogue.builtin.extended(with: providers) }
}
