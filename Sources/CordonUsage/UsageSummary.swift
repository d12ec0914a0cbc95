/// Usage per sandbox, profile, provider and model: today, this month and in total (UTC), what
/// `cordon usage` shows.
public enum UsageSummary {
    public struct Count: Sendable, Equatable {
        public var inputTokens = 0
        public var outputTokens = 0
        /// The part of the tokens that is an estimate (responses that reported no usage).
        public var estimatedTokens = 0
        public var requests = 0
        public var tokens: Int { inputTokens + outputTokens }

        public init() {}

        /// Adds another count (a total over rows).
        public mutating func add(_ other: Count) {
            inputTokens += other.inputTokens
            outputTokens += other.outputTokens
            estimatedTokens += other.estimatedTokens
            requests += other.requests
        }

        mutating func add(_ record: UsageRecord) {
            inputTokens += record.inputTokens
            outputTokens += record.outputTokens
            if record.estimated { estimatedTokens += record.totalTokens }
            requests += 1
        }
    }

    public struct Row: Sendable, Equatable {
        public var sandbox: String
        public var profile: String
        public var provider: String
        public var model: String
        public var today = Count()
        public var month = Count()
        public var total = Count()
    }

    /// Rows sorted by sandbox, profile, provider and model; records before `since` (seconds)
    /// are left out, and `now` says which day and month are the current ones.
    public static func rows(_ records: [UsageRecord], now: Int, since: Int? = nil) -> [Row] {
        var rows: [[String]: Row] = [:]
        let today = UsageCalendar.day(now), month = UsageCalendar.month(now)
        for record in records {
            guard let seconds = record.seconds, seconds >= since ?? Int.min else { continue }
            let key = [record.sandbox, record.profile, record.provider, record.model]
            var row = rows[key] ?? Row(sandbox: record.sandbox, profile: record.profile, provider: record.provider, model: record.model)
            row.total.add(record)
            if UsageCalendar.month(seconds) == month { row.month.add(record) }
            if UsageCalendar.day(seconds) == today { row.today.add(record) }
            rows[key] = row
        }
        return rows.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map(\.value)
    }
}
