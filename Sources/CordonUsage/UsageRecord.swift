public import CordonCore

/// One metered request as the ledger keeps it.
public struct UsageRecord: Sendable, Equatable {
    /// RFC 3339 UTC.
    public var time: String
    public var sandbox: String
    public var profile: String
    public var provider: String
    /// The model the response named (`unknown` when it named none).
    public var model: String
    public var inputTokens: Int
    public var outputTokens: Int
    public var cachedTokens: Int?
    public var reasoningTokens: Int?
    /// True when the response reported no usage and the tokens are (request + response bytes) / 4.
    public var estimated: Bool

    public init(
        time: String, sandbox: String, profile: String, provider: String, model: String, inputTokens: Int, outputTokens: Int,
        cachedTokens: Int? = nil, reasoningTokens: Int? = nil, estimated: Bool
    ) {
        self.time = time
        self.sandbox = sandbox
        self.profile = profile
        self.provider = provider
        self.model = model
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cachedTokens = cachedTokens
        self.reasoningTokens = reasoningTokens
        self.estimated = estimated
    }

    /// Input and output: what budgets count.
    public var totalTokens: Int { inputTokens + outputTokens }

    /// Seconds since the epoch (nil when `time` is not RFC 3339 UTC).
    public var seconds: Int? { UsageCalendar.seconds(rfc3339: time) }

    /// The ledger line's fields, in order.
    public var fields: [(String, JSONValue)] {
        var fields: [(String, JSONValue)] = [
            ("time", .string(time)), ("sandbox", .string(sandbox)), ("profile", .string(profile)), ("provider", .string(provider)),
            ("model", .string(model)), ("input_tokens", .int(inputTokens)), ("output_tokens", .int(outputTokens)),
        ]
        if let cachedTokens { fields.append(("cached_tokens", .int(cachedTokens))) }
        if let reasoningTokens { fields.append(("reasoning_tokens", .int(reasoningTokens))) }
        fields.append(("estimated", .bool(estimated)))
        return fields
    }

    /// A ledger line read back; nil when it is not one (a torn or foreign line).
    public init?(json value: JSONValue) {
        guard case .string(let time)? = value["time"], UsageCalendar.seconds(rfc3339: time) != nil, case .string(let sandbox)? = value["sandbox"],
            case .string(let profile)? = value["profile"], case .string(let provider)? = value["provider"], case .string(let model)? = value["model"],
            case .int(let input)? = value["input_tokens"], case .int(let output)? = value["output_tokens"], input >= 0, output >= 0,
            case .bool(let estimated)? = value["estimated"]
        else { return nil }
        func optional(_ key: String) -> Int? {
            if case .int(let n)? = value[key], n >= 0 { return n }
            return nil
        }
        self.init(
            time: time, sandbox: sandbox, profile: profile, provider: provider, model: model, inputTokens: min(input, 1 << 40),
            outputTokens: min(output, 1 << 40), cachedTokens: optional("cached_tokens"), reasoningTokens: optional("reasoning_tokens"), estimated: estimated)
    }
}
