import CordonCore

/// Tokens spent, kept by provider and by UTC day and month: what budgets are checked against.
public struct SpentTokens: Sendable, Equatable {
    struct Buckets: Sendable, Equatable {
        var total = 0
        var days: [Int: Int] = [:]
        var months: [Int: Int] = [:]
    }

    private var providers: [String: Buckets] = [:]

    public init() {}

    /// The records' tokens (those with a readable time).
    public init(_ records: [UsageRecord]) {
        for record in records {
            if let seconds = record.seconds { add(record.totalTokens, provider: record.provider, at: seconds) }
        }
    }

    public mutating func add(_ tokens: Int, provider: String, at seconds: Int) {
        let cap = Budget.maximumTokens * 1000
        var buckets = providers[provider, default: Buckets()]
        buckets.total = min(buckets.total + tokens, cap)
        buckets.days[UsageCalendar.day(seconds), default: 0] = min(buckets.days[UsageCalendar.day(seconds), default: 0] + tokens, cap)
        buckets.months[UsageCalendar.month(seconds), default: 0] = min(buckets.months[UsageCalendar.month(seconds), default: 0] + tokens, cap)
        providers[provider] = buckets
    }

    /// Tokens `budget` has counted at `seconds`: in that UTC day or month, or in total.
    public func used(by budget: Budget, at seconds: Int) -> Int {
        var sum = 0
        for (name, buckets) in providers where budget.covers(name) {
            switch budget.per {
            case .day: sum += buckets.days[UsageCalendar.day(seconds)] ?? 0
            case .month: sum += buckets.months[UsageCalendar.month(seconds)] ?? 0
            case .total: sum += buckets.total
            }
        }
        return sum
    }
}

/// The budget decisions, pure: whether a request is refused, and which thresholds a recorded
/// request crossed. `used * 100 >= percent * tokens` in whole numbers, so 80 % of 1000 is
/// reached at exactly 800 tokens.
public enum BudgetCheck {
    /// The first budget that covers `provider` and is at or over `blockAt` percent, with its use.
    public static func blocking(_ settings: BudgetSettings, spent: SpentTokens, provider: String, at seconds: Int) -> (budget: Budget, used: Int)? {
        for budget in settings.budgets where budget.covers(provider) {
            let used = spent.used(by: budget, at: seconds)
            if reached(used, settings.blockAt, of: budget.tokens) { return (budget, used) }
        }
        return nil
    }

    /// Whether `used` is at least `percent` of `tokens`.
    public static func reached(_ used: Int, _ percent: Int, of tokens: Int) -> Bool {
        let (scaled, overflow) = used.multipliedReportingOverflow(by: 100)
        return overflow || scaled >= percent * tokens
    }

    public enum Threshold: Sendable, Equatable { case warn, block }

    /// The thresholds a request to `provider` crossed, from `before` to `after`, per budget.
    public static func crossed(
        _ settings: BudgetSettings, before: SpentTokens, after: SpentTokens, provider: String, at seconds: Int
    ) -> [(budget: Budget, threshold: Threshold, used: Int)] {
        var result: [(Budget, Threshold, Int)] = []
        for budget in settings.budgets where budget.covers(provider) {
            let old = before.used(by: budget, at: seconds), new = after.used(by: budget, at: seconds)
            for (threshold, percent) in [(Threshold.warn, settings.warnAt), (.block, settings.blockAt)]
            where !reached(old, percent, of: budget.tokens) && reached(new, percent, of: budget.tokens) {
                result.append((budget, threshold, new))
            }
        }
        return result
    }

    /// A notice for a crossed threshold, for the user's terminal and the sandbox log.
    public static func notice(_ budget: Budget, _ threshold: Threshold, used: Int, settings: BudgetSettings) -> String {
        let share = "\(used) of \(budget.tokens) tokens (\(percent(used, of: budget.tokens))%)"
        switch threshold {
        case .warn: return "usage: \(budget.label) is at \(share); new requests are refused from \(settings.blockAt)%"
        case .block: return "usage: \(budget.label) is at \(share); new requests are refused" + resets(budget.per)
        }
    }

    /// The refusal: a reason for logs and the JSON body of the HTTP 429 the agent receives.
    public static func refusal(_ budget: Budget, used: Int, settings: BudgetSettings) -> (body: String, reason: String) {
        let reason =
            "\(budget.label) is used up: \(used) of \(budget.tokens) tokens (\(percent(used, of: budget.tokens))%, refused from \(settings.blockAt)%)"
            + resets(budget.per)
        let body: JSONValue = .object([
            (
                "error",
                .object([
                    ("type", "cordon_budget_exceeded"), ("message", .string("cordon: " + reason)),
                    (
                        "budget",
                        .object([
                            ("provider", budget.provider.map(JSONValue.string) ?? .null), ("per", .string(budget.per.rawValue)),
                            ("tokens", .int(budget.tokens)),
                            ("used", .int(used)), ("block_at", .int(settings.blockAt)),
                        ])
                    ),
                ])
            )
        ])
        return (body.encoded(), reason)
    }

    static func percent(_ used: Int, of tokens: Int) -> Int {
        tokens > 0 ? Int(min(Double(used) * 100 / Double(tokens), 1e9)) : 100
    }

    private static func resets(_ per: Budget.Period) -> String {
        switch per {
        case .day: "; it resets at 00:00 UTC"
        case .month: "; it resets on the 1st at 00:00 UTC"
        case .total: "; raise usage.budgets in the profile to go on"
        }
    }
}
