/// Where an LLM provider's API reports token usage in its responses.
public enum UsageFormat: String, Sendable, Equatable, Codable, CaseIterable {
    /// OpenAI chat/completions (`usage.prompt_tokens`/`completion_tokens`) and responses
    /// (`usage.input_tokens`/`output_tokens`, streamed in `response.completed`); also the
    /// OpenAI-compatible APIs (OpenRouter, Mistral, most local servers).
    case openai
    /// Anthropic messages: `usage.input_tokens`/`output_tokens`; streamed, the input in
    /// `message_start` and the output in `message_delta`.
    case anthropic
    /// Google Gemini generateContent / streamGenerateContent: `usageMetadata`.
    case gemini
}

/// One metered API: requests to `domain` whose path starts with `pathPrefix` are counted, their
/// responses read as `format`.
public struct UsageProvider: Sendable, Equatable, Codable {
    /// The provider name usage and budgets are kept under (`openai`, `anthropic`, …).
    public var name: String
    /// The exact host name (no wildcard, no port), lowercase.
    public var domain: String
    /// The path prefix, starting with `/` (e.g. `/v1/chat/completions`).
    public var pathPrefix: String
    public var format: UsageFormat

    public init(name: String, domain: String, pathPrefix: String, format: UsageFormat) {
        self.name = name
        self.domain = ProviderCatalogue.normalizedHost(domain)
        self.pathPrefix = pathPrefix
        self.format = format
    }
}

/// The providers cordon meters: the built-in ones and a profile's `usage.providers`.
public struct ProviderCatalogue: Sendable, Equatable {
    public private(set) var providers: [UsageProvider]

    public init(providers: [UsageProvider]) { self.providers = providers }

    /// OpenAI, Anthropic, Google Gemini, OpenRouter and Mistral's generation endpoints (listing
    /// models, files or token counts is not metered).
    public static let builtin = ProviderCatalogue(providers: [
        UsageProvider(name: "openai", domain: "api.openai.com", pathPrefix: "/v1/chat/completions", format: .openai),
        UsageProvider(name: "openai", domain: "api.openai.com", pathPrefix: "/v1/completions", format: .openai),
        UsageProvider(name: "openai", domain: "api.openai.com", pathPrefix: "/v1/responses", format: .openai),
        UsageProvider(name: "openai", domain: "api.openai.com", pathPrefix: "/v1/embeddings", format: .openai),
        UsageProvider(name: "anthropic", domain: "api.anthropic.com", pathPrefix: "/v1/messages", format: .anthropic),
        UsageProvider(name: "gemini", domain: "generativelanguage.googleapis.com", pathPrefix: "/v1beta/models/", format: .gemini),
        UsageProvider(name: "gemini", domain: "generativelanguage.googleapis.com", pathPrefix: "/v1/models/", format: .gemini),
        UsageProvider(name: "openrouter", domain: "openrouter.ai", pathPrefix: "/api/v1/chat/completions", format: .openai),
        UsageProvider(name: "openrouter", domain: "openrouter.ai", pathPrefix: "/api/v1/completions", format: .openai),
        UsageProvider(name: "mistral", domain: "api.mistral.ai", pathPrefix: "/v1/chat/completions", format: .openai),
        UsageProvider(name: "mistral", domain: "api.mistral.ai", pathPrefix: "/v1/fim/completions", format: .openai),
    ])

    /// Names of the built-in providers, for checking a budget's `provider`.
    public static let builtinNames: [String] = builtin.providers.reduce(into: []) { names, p in
        if !names.contains(p.name) { names.append(p.name) }
    }

    /// This catalogue with `extra` added; an extra entry for the same domain and path prefix as a
    /// built-in one replaces it.
    public func extended(with extra: [UsageProvider]) -> ProviderCatalogue {
        var result = providers
        for entry in extra {
            result.removeAll { $0.domain == entry.domain && $0.pathPrefix == entry.pathPrefix }
            result.append(entry)
        }
        return ProviderCatalogue(providers: result)
    }

    /// The provider metering a request to `host` for `path` (its query left out), nil when none
    /// does. The longest matching prefix wins. A prefix matches whole path segments only when it
    /// does not end in `/`: `/v1/messages` covers `/v1/messages` and `/v1/messages?…`, not
    /// `/v1/messagesX`.
    public func provider(host: String, path: String) -> UsageProvider? {
        let host = Self.normalizedHost(host)
        let path = Self.pathWithoutQuery(path)
        var best: UsageProvider?
        for entry in providers where entry.domain == host && Self.matches(path, prefix: entry.pathPrefix) && entry.format.meters(path: path) {
            if entry.pathPrefix.count > (best?.pathPrefix.count ?? -1) { best = entry }
        }
        return best
    }

    static func matches(_ path: String, prefix: String) -> Bool {
        guard path.hasPrefix(prefix) else { return false }
        if prefix.hasSuffix("/") || path.count == prefix.count { return true }
        let next = path.utf8[path.utf8.index(path.utf8.startIndex, offsetBy: prefix.utf8.count)]
        return next == UInt8(ascii: "/") || next == UInt8(ascii: ":")
    }

    /// Lowercase, without a trailing dot or a `:port`.
    public static func normalizedHost(_ host: String) -> String {
        var text = host.lowercased()
        if !text.hasPrefix("["), let colon = text.lastIndex(of: ":"), text[text.index(after: colon)...].allSatisfy(\.isNumber) {
            text = String(text[..<colon])
        }
        while text.hasSuffix(".") { text.removeLast() }
        return text
    }

    static func pathWithoutQuery(_ path: String) -> String {
        String(path.prefix { $0 != "?" && $0 != "#" })
    }
}

extension UsageFormat {
    /// Whether a request to `path` under a provider's prefix is one that spends tokens: Gemini's
    /// prefix covers every model method, and only generation is metered (not `countTokens`, not
    /// reading a model's description). Anthropic's token counting and batch management neither.
    func meters(path: String) -> Bool {
        switch self {
        case .openai: return true
        case .anthropic: return !path.hasPrefix("/v1/messages/count_tokens") && !path.hasPrefix("/v1/messages/batches")
        case .gemini: return path.hasSuffix(":generateContent") || path.hasSuffix(":streamGenerateContent")
        }
    }

    /// The model a path names (Gemini's `/v1beta/models/NAME:method`), for responses that do not say.
    func model(fromPath path: String) -> String? {
        guard self == .gemini else { return nil }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard let index = parts.firstIndex(of: "models"), index + 1 < parts.count else { return nil }
        let name = parts[index + 1].prefix { $0 != ":" }
        return name.isEmpty ? nil : String(name)
    }
}
