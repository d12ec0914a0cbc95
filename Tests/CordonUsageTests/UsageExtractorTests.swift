import CordonTestSupport
import Testing

@testable import CordonUsage

/// Bodies shaped as the providers send them (trimmed to what matters, fields in their order).
enum Bodies {
    static let openaiChat = """
        {"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant",\
        "content":"Hi there \\"usage\\": {\\"prompt_tokens\\": 0}"},"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":10,\
        "total_tokens":29,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":2}}}
        """

    static let openaiChatStream = """
        data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"He"}}],"usage":null}

        data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"llo"}}],"usage":null}

        data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19}}

        data: [DONE]


        """

    static let openaiResponses = """
        {"id":"resp_1","object":"response","model":"gpt-4.1","output":[{"type":"message","content":[{"type":"output_text","text":"ok"}]}],\
        "usage":{"input_tokens":36,"input_tokens_details":{"cached_tokens":0},"output_tokens":87,"output_tokens_details":{"reasoning_tokens":64},"total_tokens":123}}
        """

    static let openaiResponsesStream = """
        event: response.created
        data: {"type":"response.created","response":{"id":"resp_1","model":"gpt-4.1","usage":null}}

        event: response.output_text.delta
        data: {"type":"response.output_text.delta","delta":"Hi"}

        event: response.completed
        data: {"type":"response.completed","response":{"id":"resp_1","model":"gpt-4.1","output":[],"usage":{"input_tokens":20,"output_tokens":5,"total_tokens":25}}}


        """

    static let anthropic = """
        {"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Hello"}],\
        "stop_reason":"end_turn","usage":{"input_tokens":10,"cache_creation_input_tokens":5,"cache_read_input_tokens":100,"output_tokens":25}}
        """

    static let anthropicStream = """
        event: message_start
        data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-3-5-haiku",\
        "usage":{"input_tokens":25,"cache_read_input_tokens":3,"output_tokens":1}}}

        event: content_block_start
        data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

        event: ping
        data: {"type": "ping"}

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}

        event: message_delta
        data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":15}}

        event: message_stop
        data: {"type":"message_stop"}


        """

    static let gemini = """
        {"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"finishReason":"STOP"}],\
        "usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":12,"totalTokenCount":30,"cachedContentTokenCount":2,"thoughtsTokenCount":10},\
        "modelVersion":"gemini-2.5-flash"}
        """

    static let geminiStream = """
        data: {"candidates":[{"content":{"parts":[{"text":"A"}]}}],"usageMetadata":{"promptTokenCount":8,"totalTokenCount":8},"modelVersion":"gemini-2.0-flash"}\r
        \r
        data: {"candidates":[{"content":{"parts":[{"text":"B"}]}}],"usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":6,"totalTokenCount":14},"modelVersion":"gemini-2.0-flash"}\r
        \r

        """

    /// streamGenerateContent without `alt=sse`: one JSON array of the chunks.
    static let geminiArray = """
        [{"candidates":[],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":1}},
        {"candidates":[],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":9},"modelVersion":"gemini-1.5-pro"}]
        """
}

struct UsageExtractorTests {
    static func read(_ body: String, _ format: UsageFormat, _ framing: UsageExtractor.Framing, path: String = "", chunks: [Int] = []) -> UsageReading? {
        var extractor = UsageExtractor(format: format, framing: framing)
        let bytes = Array(body.utf8)
        var start = 0
        for cut in chunks + [bytes.count] where cut >= start {
            extractor.feed(Array(bytes[start..<cut]))
            start = cut
        }
        return extractor.finish(path: path)
    }

    @Test(arguments: [
        (
            Bodies.openaiChat, UsageFormat.openai, UsageExtractor.Framing.json,
            UsageReading(model: "gpt-4o-2024-08-06", inputTokens: 19, outputTokens: 10, cachedTokens: 4, reasoningTokens: 2)
        ),
        (Bodies.openaiChatStream, .openai, .eventStream, UsageReading(model: "gpt-4o-mini", inputTokens: 12, outputTokens: 7)),
        (Bodies.openaiResponses, .openai, .json, UsageReading(model: "gpt-4.1", inputTokens: 36, outputTokens: 87, cachedTokens: 0, reasoningTokens: 64)),
        (Bodies.openaiResponsesStream, .openai, .eventStream, UsageReading(model: "gpt-4.1", inputTokens: 20, outputTokens: 5)),
        (Bodies.anthropic, .anthropic, .json, UsageReading(model: "claude-sonnet-4-5", inputTokens: 115, outputTokens: 25, cachedTokens: 100)),
        (Bodies.anthropicStream, .anthropic, .eventStream, UsageReading(model: "claude-3-5-haiku", inputTokens: 28, outputTokens: 15, cachedTokens: 3)),
        (Bodies.gemini, .gemini, .json, UsageReading(model: "gemini-2.5-flash", inputTokens: 8, outputTokens: 22, cachedTokens: 2, reasoningTokens: 10)),
        (Bodies.geminiStream, .gemini, .eventStream, UsageReading(model: "gemini-2.0-flash", inputTokens: 8, outputTokens: 6)),
        (Bodies.geminiArray, .gemini, .json, UsageReading(model: "gemini-1.5-pro", inputTokens: 4, outputTokens: 9)),
    ])
    func eachProviderShapeIsRead(body: String, format: UsageFormat, framing: UsageExtractor.Framing, expected: UsageReading) {
        #expect(Self.read(body, format, framing) == expected)
    }

    @Test func aBodySplitAtEveryByteReadsTheSame() {
        for (body, format, framing) in [
            (Bodies.anthropicStream, UsageFormat.anthropic, UsageExtractor.Framing.eventStream), (Bodies.openaiChat, .openai, .json),
            (Bodies.geminiStream, .gemini, .eventStream),
        ] {
            let whole = Self.read(body, format, framing)
            #expect(whole != nil)
            for cut in 0...body.utf8.count {
                #expect(Self.read(body, format, framing, chunks: [cut]) == whole, "cut at \(cut)")
            }
            #expect(Self.read(body, format, framing, chunks: Array(0...body.utf8.count)) == whole, "byte by byte")
        }
    }

    @Test func everyShapeReadsTheSameInRandomPieces() {
        var random = SplitMix(seed: 25)
        for (body, format, framing) in [
            (Bodies.openaiChat, UsageFormat.openai, UsageExtractor.Framing.json), (Bodies.openaiChatStream, .openai, .eventStream),
            (Bodies.openaiResponses, .openai, .json), (Bodies.openaiResponsesStream, .openai, .eventStream), (Bodies.anthropic, .anthropic, .json),
            (Bodies.anthropicStream, .anthropic, .eventStream), (Bodies.gemini, .gemini, .json), (Bodies.geminiStream, .gemini, .eventStream),
            (Bodies.geminiArray, .gemini, .json),
        ] {
            let whole = Self.read(body, format, framing)
            #expect(whole != nil)
            for _ in 0..<50 {
                let cuts = (0..<Int(random.next() % 12)).map { _ in Int(random.next() % UInt64(body.utf8.count + 1)) }.sorted()
                #expect(Self.read(body, format, framing, chunks: cuts) == whole, "cuts \(cuts)")
            }
        }
    }

    @Test func eventLinesEndInLFCRLFOrCRAndDataMaySpanLines() {
        let expected = UsageReading(model: "m", inputTokens: 3, outputTokens: 4)
        for end in ["\n", "\r\n", "\r"] {
            let body =
                ": keep-alive\(end)event: done\(end)data:{\"model\":\"m\",\(end)data: \"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\(end)\(end)"
            #expect(Self.read(body, .openai, .eventStream) == expected, "line end \(Array(end.utf8))")
        }
        // The last event needs no blank line after it when the body ends.
        #expect(Self.read("data: {\"model\":\"m\",\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}", .openai, .eventStream) == expected)
    }

    @Test func geminiTakesTheModelFromThePathWhenTheResponseNamesNone() {
        let body = #"{"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":4}}"#
        let reading = Self.read(body, .gemini, .json, path: "/v1beta/models/gemini-2.5-pro:generateContent?key=x")
        #expect(reading == UsageReading(model: "gemini-2.5-pro", inputTokens: 3, outputTokens: 4))
    }

    @Test func aHugeEventIsReadInBoundedMemoryAndItsUsageCounts() {
        // The responses API's last event holds the whole answer: 8 MiB of text before its usage.
        var extractor = UsageExtractor(format: .openai, framing: .eventStream)
        extractor.feed(Array(#"data: {"type":"response.completed","response":{"model":"gpt-4.1","output":[{"text":""#.utf8))
        let piece = [UInt8](repeating: UInt8(ascii: "x"), count: 64 * 1024)
        var peak = 0
        for _ in 0..<128 {
            extractor.feed(piece)
            peak = max(peak, extractor.retainedBytes)
        }
        extractor.feed(Array(#""}],"usage":{"input_tokens":5,"output_tokens":2000000}}}"#.utf8) + [0x0A, 0x0A])
        #expect(peak < 4096)
        #expect(extractor.finish() == UsageReading(model: "gpt-4.1", inputTokens: 5, outputTokens: 2_000_000))
    }

    @Test func textThatSpellsUsageDoesNotForgeIt() {
        // A model's answer (or a tool's argument) quoting a usage object is a string: no count.
        let quoted = #"{"model":"m","choices":[{"message":{"content":"\"usage\":{\"prompt_tokens\":1}"}}],"usage":{"prompt_tokens":500,"completion_tokens":5}}"#
        #expect(Self.read(quoted, .openai, .json) == UsageReading(model: "m", inputTokens: 500, outputTokens: 5))
        // A usage object nested where no provider puts it is not the response's usage.
        let nested = #"{"choices":[{"usage":{"prompt_tokens":1,"completion_tokens":1}}]}"#
        #expect(Self.read(nested, .openai, .json) == nil)
        // An event's text cannot start a new event: its newlines arrive escaped.
        let stream =
            "data: {\"choices\":[{\"delta\":{\"content\":\"\\n\\ndata: {\\\"usage\\\":{\\\"prompt_tokens\\\":1,\\\"completion_tokens\\\":1}}\\n\\n\"}}]}\n\n"
        #expect(Self.read(stream, .openai, .eventStream) == nil)
    }

    @Test func garbageAndUsagelessBodiesReadAsNone() {
        #expect(Self.read("", .openai, .json) == nil)
        #expect(Self.read("<html>502 Bad Gateway</html>", .openai, .json) == nil)
        #expect(Self.read(String(repeating: "[", count: 10_000), .anthropic, .json) == nil)
        #expect(Self.read(#"{"usage":{"prompt_tokens":5,"completion_tokens":1}} trailing"#, .openai, .json) == nil)
        #expect(Self.read(#"{"id":"x","choices":[]}"#, .openai, .json) == nil)
        #expect(Self.read("data: [DONE]\n\n: comment\n\nevent: x\n\n", .openai, .eventStream) == nil)
        var random = SplitMix(seed: 7)
        for _ in 0..<50 {
            let bytes = (0..<300).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            for format in UsageFormat.allCases {
                var json = UsageExtractor(format: format, framing: .json)
                json.feed(bytes)
                _ = json.finish()
                var stream = UsageExtractor(format: format, framing: .eventStream)
                stream.feed(bytes)
                _ = stream.finish()
            }
        }
    }

    @Test func lastEventWithUsageWinsAndAnEventCutShortIsSkipped() {
        let body = """
            data: {"model":"a","usage":{"prompt_tokens":1,"completion_tokens":1}}

            data: {"model":"b","usage":{"prompt_tokens":2,"completion_tokens":3}}

            data: {"model":"c","usage":{"prompt_tokens":9,
            """
        #expect(Self.read(body, .openai, .eventStream) == UsageReading(model: "b", inputTokens: 2, outputTokens: 3))
    }

    @Test func contentTypeChoosesTheFraming() {
        #expect(UsageExtractor.framing(contentType: "text/event-stream; charset=utf-8") == .eventStream)
        #expect(UsageExtractor.framing(contentType: "Text/Event-Stream") == .eventStream)
        #expect(UsageExtractor.framing(contentType: "application/json") == .json)
        #expect(UsageExtractor.framing(contentType: nil) == .json)
    }
}
