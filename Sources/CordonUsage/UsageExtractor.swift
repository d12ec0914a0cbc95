/// What one response says it cost. `inputTokens` counts every prompt token, cached ones included
/// (Anthropic's cache reads and writes are added to its `input_tokens`); `outputTokens` every
/// generated one, reasoning included (Gemini's thoughts are added to its candidates).
public struct UsageReading: Sendable, Equatable {
    public var model: String?
    public var inputTokens: Int
    public var outputTokens: Int
    /// Prompt tokens served from the provider's cache, where it says.
    public var cachedTokens: Int?
    /// Output tokens spent on reasoning, where it says.
    public var reasoningTokens: Int?

    public init(model: String?, inputTokens: Int, outputTokens: Int, cachedTokens: Int? = nil, reasoningTokens: Int? = nil) {
        self.model = model
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cachedTokens = cachedTokens
        self.reasoningTokens = reasoningTokens
    }
}

/// Reads the token usage out of a response body fed in chunks of any size, split anywhere: a JSON
/// body, or a `text/event-stream` whose events are JSON (the last event that carries usage wins;
/// Anthropic's input count from `message_start` and output count from `message_delta` are
/// combined). Memory stays bounded whatever the body's size: nothing but the scanner's small state
/// is kept, and an event of any size is read as it streams (the final event of OpenAI's
/// responses API holds the whole answer, and its usage with it).
public struct UsageExtractor {
    public enum Framing: Sendable { case json, eventStream }

    let format: UsageFormat
    let framing: Framing
    private let wanted: Set<String>
    private var scanner: JSONFieldScanner
    /// Usage gathered so far (a whole JSON body, or the events read so far).
    private var usage = Fields()
    private var model: String?

    // Event-stream line state.
    private var field: [UInt8] = []
    private var lineState = LineState.start
    private var afterCR = false
    private var eventHasData = false

    private enum LineState { case start, name, dataSpace, data, ignore }
    private static let dataField = Array("data".utf8)

    /// Field names of usage, common to the three formats.
    fileprivate struct Fields: Equatable {
        var input: Int?
        var output: Int?
        var cached: Int?
        var reasoning: Int?
        var cacheWrite: Int?
        var hasUsage: Bool { input != nil || output != nil }
    }

    public init(format: UsageFormat, framing: Framing) {
        self.format = format
        self.framing = framing
        self.wanted = format.wantedPaths
        self.scanner = JSONFieldScanner(wanted: wanted)
    }

    /// The framing a response's `Content-Type` says (`text/event-stream`, else JSON).
    public static func framing(contentType: String?) -> Framing {
        let type = contentType?.split(separator: ";").first.map { $0.filter { $0 != " " && $0 != "\t" }.lowercased() }
        return type == "text/event-stream" ? .eventStream : .json
    }

    /// Bytes held beyond the fixed state (for the memory bound's test).
    public var retainedBytes: Int { scanner.retainedBytes + field.capacity }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        switch framing {
        case .json: scanner.feed(bytes)
        case .eventStream: feedEvents(bytes)
        }
    }

    public mutating func feed(_ bytes: [UInt8]) { bytes.withUnsafeBytes { feed($0) } }

    /// The usage the body reported, nil when it reported none (or was not JSON).
    public mutating func finish(path: String = "") -> UsageReading? {
        switch framing {
        case .json:
            scanner.finish()
            if !scanner.failed { take(scanner.captured) }
        case .eventStream:
            if lineState != .start || eventHasData { endLine() }
            dispatchEvent()
        }
        guard usage.hasUsage else { return nil }
        let cap = 1 << 40
        func clamp(_ n: Int?) -> Int { min(max(n ?? 0, 0), cap) }
        let cacheRead = usage.cached.map { clamp($0) }
        var reading = UsageReading(
            model: model ?? format.model(fromPath: ProviderCatalogue.pathWithoutQuery(path)), inputTokens: clamp(usage.input),
            outputTokens: clamp(usage.output), cachedTokens: cacheRead, reasoningTokens: usage.reasoning.map { clamp($0) })
        switch format {
        case .anthropic: reading.inputTokens += clamp(usage.cacheWrite) + (cacheRead ?? 0)
        case .gemini: reading.outputTokens += reading.reasoningTokens ?? 0
        case .openai: break
        }
        if let name = reading.model { reading.model = String(name.unicodeScalars.prefix(128)) }
        return reading
    }

    // MARK: Event stream

    private mutating func feedEvents(_ bytes: UnsafeRawBufferPointer) {
        var index = 0
        let count = bytes.count
        while index < count {
            if lineState == .data && !afterCR {
                // A data line's content goes to the scanner in one piece, up to the line's end.
                let start = index
                while index < count, bytes[index] != 0x0A, bytes[index] != 0x0D { index += 1 }
                scanner.feed(UnsafeRawBufferPointer(rebasing: bytes[start..<index]))
                if index == count { return }
            }
            eventByte(bytes[index])
            index += 1
        }
    }

    private mutating func eventByte(_ b: UInt8) {
        if afterCR {
            afterCR = false
            if b == 0x0A { return }
        }
        if b == 0x0A || b == 0x0D {
            afterCR = b == 0x0D
            endLine()
            return
        }
        switch lineState {
        case .start, .name:
            if b == UInt8(ascii: ":") {
                lineState = field == Self.dataField ? .dataSpace : .ignore
                if lineState == .dataSpace {
                    if eventHasData { scanner.feed(byte: 0x0A) }
                    eventHasData = true
                }
            } else if field.count < 16 {
                field.append(b)
                lineState = .name
            } else {
                lineState = .ignore
            }
        case .dataSpace:
            lineState = .data
            if b != 0x20 { scanner.feed(byte: b) }
        case .data: scanner.feed(byte: b)
        case .ignore: break
        }
    }

    private mutating func endLine() {
        if lineState == .start {
            dispatchEvent()
        } else if lineState == .name, field == Self.dataField {
            // `data` alone on a line is an empty data line.
            if eventHasData { scanner.feed(byte: 0x0A) }
            eventHasData = true
        }
        field.removeAll(keepingCapacity: true)
        lineState = .start
    }

    private mutating func dispatchEvent() {
        if eventHasData {
            scanner.finish()
            if scanner.isComplete { take(scanner.captured) }
        }
        scanner = JSONFieldScanner(wanted: wanted)
        eventHasData = false
    }

    // MARK: Fields

    /// Takes one document's (one event's) values: Anthropic's events each carry part of the
    /// usage and are merged field by field; for the others the last event with usage replaces
    /// what came before.
    private mutating func take(_ captured: [String: JSONFieldScanner.Scalar]) {
        var fields = Fields()
        var name: String?
        for (path, mapping) in format.pathMap {
            guard let value = captured[path] else { continue }
            switch (mapping, value) {
            case (.model, .string(let text)): name = name ?? text
            case (.input, .int(let n)): fields.input = fields.input ?? n
            case (.output, .int(let n)): fields.output = fields.output ?? n
            case (.cached, .int(let n)): fields.cached = fields.cached ?? n
            case (.reasoning, .int(let n)): fields.reasoning = fields.reasoning ?? n
            case (.cacheWrite, .int(let n)): fields.cacheWrite = fields.cacheWrite ?? n
            default: break
            }
        }
        if let name { model = name }
        if format == .anthropic {
            if let n = fields.input { usage.input = n }
            if let n = fields.output { usage.output = n }
            if let n = fields.cached { usage.cached = n }
            if let n = fields.reasoning { usage.reasoning = n }
            if let n = fields.cacheWrite { usage.cacheWrite = n }
        } else if fields.hasUsage {
            usage = fields
        }
    }
}

extension UsageFormat {
    fileprivate enum Meaning { case model, input, output, cached, reasoning, cacheWrite }

    /// Where each format says what, in order of preference (the first path present wins).
    fileprivate var pathMap: [(String, Meaning)] {
        switch self {
        case .openai:
            let leaves: [(String, Meaning)] = [
                ("model", .model),
                ("usage.prompt_tokens", .input), ("usage.input_tokens", .input),
                ("usage.completion_tokens", .output), ("usage.output_tokens", .output),
                ("usage.prompt_tokens_details.cached_tokens", .cached), ("usage.input_tokens_details.cached_tokens", .cached),
                ("usage.completion_tokens_details.reasoning_tokens", .reasoning), ("usage.output_tokens_details.reasoning_tokens", .reasoning),
            ]
            // The responses API's streamed events carry the response object under `response`.
            return leaves + leaves.map { ("response." + $0.0, $0.1) }
        case .anthropic:
            let leaves: [(String, Meaning)] = [
                ("model", .model), ("usage.input_tokens", .input), ("usage.output_tokens", .output),
                ("usage.cache_read_input_tokens", .cached), ("usage.cache_creation_input_tokens", .cacheWrite),
            ]
            // `message_start` carries the message (its model and input count) under `message`.
            return leaves + leaves.map { ("message." + $0.0, $0.1) }
        case .gemini:
            return [
                ("modelVersion", .model), ("usageMetadata.promptTokenCount", .input), ("usageMetadata.candidatesTokenCount", .output),
                ("usageMetadata.cachedContentTokenCount", .cached), ("usageMetadata.thoughtsTokenCount", .reasoning),
            ]
        }
    }

    var wantedPaths: Set<String> { Set(pathMap.map(\.0)) }
}
