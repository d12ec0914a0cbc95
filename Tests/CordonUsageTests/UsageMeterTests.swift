import CordonCore
import CordonTestSupport
import Glibc
import Synchronization
import Testing

@testable import CordonUsage

/// Notices the meter gave, and a clock the test moves.
final class Recorder: Sendable {
    let notices = Mutex<[String]>([])
    let now = Mutex("2026-12-06T10:00:00.000Z")
    var log: [String] { notices.withLock { $0 } }
}

struct UsageMeterTests {
    static func meter(
        _ directory: String, budgets: [Budget] = [], warnAt: Int = 80, blockAt: Int = 95, sandbox: String = "s1", profile: String = "dev",
        recorder: Recorder
    ) -> UsageMeter {
        UsageMeter(
            sandbox: sandbox, profile: profile, catalogue: .builtin, budgets: BudgetSettings(budgets: budgets, warnAt: warnAt, blockAt: blockAt),
            ledger: UsageLedger(directory: directory), notice: { text in recorder.notices.withLock { $0.append(text) } },
            clock: { recorder.now.withLock { $0 } })
    }

    /// One request to OpenAI's chat API whose response reports `input` + `output` tokens.
    static func spend(_ meter: UsageMeter, input: Int, output: Int = 0) {
        guard case .metered(let exchange) = meter.admit(host: "api.openai.com", path: "/v1/chat/completions") else {
            Issue.record("not admitted")
            return
        }
        exchange.requestBody(byteCount: 100)
        exchange.responseHead(status: 200, contentType: "application/json", contentEncoding: nil)
        let body = #"{"model":"gpt-4o","usage":{"prompt_tokens":\#(input),"completion_tokens":\#(output)}}"#
        Array(body.utf8).withUnsafeBytes { exchange.responseBody($0) }
        exchange.finish()
    }

    static func isBlocked(_ admission: UsageMeter.Admission) -> Bool {
        if case .blocked = admission { return true }
        return false
    }

    @Test func onlyTheCataloguesGenerationEndpointsAreMetered() throws {
        let tree = try TempTree()
        let meter = Self.meter(tree.root, recorder: Recorder())
        for (host, path, metered) in [
            ("api.openai.com", "/v1/chat/completions", true), ("API.OpenAI.com.", "/v1/responses?x=1", true), ("api.openai.com:443", "/v1/embeddings", true),
            ("api.openai.com", "/v1/models", false), ("api.openai.com", "/v1/chat/completionsX", false), ("evil.example", "/v1/chat/completions", false),
            ("api.anthropic.com", "/v1/messages", true), ("api.anthropic.com", "/v1/messages/count_tokens", false),
            ("generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", true),
            ("generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-pro", false),
            ("generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-pro:countTokens", false),
            ("openrouter.ai", "/api/v1/chat/completions", true), ("api.mistral.ai", "/v1/fim/completions", true),
        ] {
            let admission = meter.admit(host: host, path: path)
            if case .notMetered = admission { #expect(!metered, "\(host)\(path)") } else { #expect(metered, "\(host)\(path)") }
        }
    }

    @Test func aProfileProviderExtendsTheCatalogue() {
        let local = UsageProvider(name: "local", domain: "LLM.example.test", pathPrefix: "/v1/", format: .anthropic)
        let catalogue = ProviderCatalogue.builtin.extended(with: [local])
        #expect(catalogue.provider(host: "llm.example.test", path: "/v1/messages")?.name == "local")
        #expect(catalogue.provider(host: "llm.example.test", path: "/v2/messages") == nil)
        #expect(catalogue.provider(host: "api.openai.com", path: "/v1/chat/completions")?.name == "openai")
    }

    @Test func warnsExactlyAtWarnAtAndRefusesExactlyAtBlockAt() throws {
        let tree = try TempTree()
        let recorder = Recorder()
        let meter = Self.meter(tree.root, budgets: [Budget(tokens: 1000, per: .day, provider: "openai")], recorder: recorder)
        Self.spend(meter, input: 700, output: 99)
        #expect(recorder.log.isEmpty)
        Self.spend(meter, input: 1)  // 800: exactly 80 %
        #expect(recorder.log.count == 1)
        #expect(recorder.log.first?.contains("the daily budget for openai is at 800 of 1000 tokens (80%)") == true)
        Self.spend(meter, input: 10)  // 810: no second warning for the same crossing
        #expect(recorder.log.count == 1)
        Self.spend(meter, input: 139)  // 949: still admitted
        #expect(!Self.isBlocked(meter.admit(host: "api.openai.com", path: "/v1/chat/completions")))
        Self.spend(meter, input: 1)  // 950: exactly 95 %
        #expect(recorder.log.count == 2)
        guard case .blocked(let body, let reason) = meter.admit(host: "api.openai.com", path: "/v1/chat/completions") else {
            Issue.record("not refused at 95 %")
            return
        }
        #expect(reason.contains("950 of 1000"))
        let json = try JSONValue.parse(Array(body.utf8))
        #expect(json["error"]?["type"] == .string("cordon_budget_exceeded"))
        #expect(json["error"]?["budget"]?["used"] == .int(950))
        #expect(json["error"]?["budget"]?["per"] == .string("day"))
        // Another provider is not under this budget.
        #expect(!Self.isBlocked(meter.admit(host: "api.anthropic.com", path: "/v1/messages")))
    }

    @Test func theInFlightRequestCountsWhenItCompletes() throws {
        let tree = try TempTree()
        let meter = Self.meter(tree.root, budgets: [Budget(tokens: 100, per: .total)], recorder: Recorder())
        guard case .metered(let inFlight) = meter.admit(host: "api.anthropic.com", path: "/v1/messages") else {
            Issue.record("not admitted")
            return
        }
        Self.spend(meter, input: 96)  // over the block meanwhile
        inFlight.responseHead(status: 200, contentType: "application/json", contentEncoding: nil)
        Array(Bodies.anthropic.utf8).withUnsafeBytes { inFlight.responseBody($0) }
        inFlight.finish()
        let records = UsageLedger(directory: tree.root).records()
        #expect(records.map(\.totalTokens) == [96, 140])
        #expect(Self.isBlocked(meter.admit(host: "api.openai.com", path: "/v1/responses")))
    }

    @Test func customThresholdsApply() throws {
        let tree = try TempTree()
        let recorder = Recorder()
        let meter = Self.meter(tree.root, budgets: [Budget(tokens: 200, per: .month)], warnAt: 50, blockAt: 60, recorder: recorder)
        Self.spend(meter, input: 99)
        #expect(recorder.log.isEmpty)
        Self.spend(meter, input: 1)
        #expect(recorder.log.count == 1)
        #expect(!Self.isBlocked(meter.admit(host: "api.openai.com", path: "/v1/responses")))
        Self.spend(meter, input: 20)
        #expect(Self.isBlocked(meter.admit(host: "api.openai.com", path: "/v1/responses")))
    }

    @Test func budgetsCountTheProfilesLedgerFromEverySandboxAndResetWithTheDay() throws {
        let tree = try TempTree()
        let ledger = UsageLedger(directory: tree.root)
        let writer = try ledger.writer(sandbox: "other")
        writer.append(
            UsageRecord(
                time: "2026-12-06T01:00:00.000Z", sandbox: "other", profile: "dev", provider: "openai", model: "m", inputTokens: 900, outputTokens: 0,
                estimated: false))
        writer.append(
            UsageRecord(
                time: "2026-12-06T01:00:00.000Z", sandbox: "other", profile: "ops", provider: "openai", model: "m", inputTokens: 900, outputTokens: 0,
                estimated: false))
        writer.append(
            UsageRecord(
                time: "2026-12-05T23:59:59.999Z", sandbox: "other", profile: "dev", provider: "openai", model: "m", inputTokens: 900, outputTokens: 0,
                estimated: false))
        let recorder = Recorder()
        let daily = Self.meter(tree.root, budgets: [Budget(tokens: 1000, per: .day)], recorder: recorder)
        #expect(!Self.isBlocked(daily.admit(host: "api.openai.com", path: "/v1/responses")))  // 900 today
        // Already past the warning when the sandbox starts: said once, at the start.
        #expect(recorder.log.count == 1 && recorder.log.first?.contains("is at 900 of 1000 tokens (90%)") == true, "\(recorder.log)")
        Self.spend(daily, input: 50)
        #expect(Self.isBlocked(daily.admit(host: "api.openai.com", path: "/v1/responses")))  // 950 today
        recorder.now.withLock { $0 = "2026-12-07T00:00:00.000Z" }
        #expect(!Self.isBlocked(daily.admit(host: "api.openai.com", path: "/v1/responses")))  // a new UTC day
        // December so far: 900 + 900 + 50 of this profile (the ops profile's 900 not).
        let monthly = Self.meter(tree.root, budgets: [Budget(tokens: 1900, per: .month)], recorder: recorder)
        #expect(Self.isBlocked(monthly.admit(host: "api.openai.com", path: "/v1/responses")))
        let total = Self.meter(tree.root, budgets: [Budget(tokens: 1950, per: .total)], recorder: recorder)
        #expect(!Self.isBlocked(total.admit(host: "api.openai.com", path: "/v1/responses")))
        let otherProfile = Self.meter(tree.root, budgets: [Budget(tokens: 900, per: .total)], profile: "ops", recorder: recorder)
        #expect(Self.isBlocked(otherProfile.admit(host: "api.openai.com", path: "/v1/responses")))
    }

    @Test func aResponseWithoutUsageIsEstimatedAndSaysSo() throws {
        let tree = try TempTree()
        let meter = Self.meter(tree.root, recorder: Recorder())
        for (type, encoding, body) in [
            ("application/json", nil, #"{"id":"x","choices":[]}"#), ("application/json", "gzip", #"{"usage":{"prompt_tokens":1,"completion_tokens":1}}"#),
            ("text/event-stream", nil, "data: [DONE]\n\n"),
        ] as [(String, String?, String)] {
            guard case .metered(let exchange) = meter.admit(host: "api.openai.com", path: "/v1/chat/completions") else { return }
            exchange.requestBody(byteCount: 400)
            exchange.responseHead(status: 200, contentType: type, contentEncoding: encoding)
            Array(body.utf8).withUnsafeBytes { exchange.responseBody($0) }
            exchange.finish()
        }
        let records = UsageLedger(directory: tree.root).records()
        #expect(records.count == 3)
        #expect(records.allSatisfy { $0.estimated && $0.inputTokens == 100 && $0.model == "unknown" })
        #expect(records.first?.outputTokens == 6)
    }

    @Test func anErrorWithoutUsageIsNotCountedAndAnAbandonedExchangeIs() throws {
        let tree = try TempTree()
        let meter = Self.meter(tree.root, recorder: Recorder())
        if case .metered(let exchange) = meter.admit(host: "api.openai.com", path: "/v1/chat/completions") {
            exchange.requestBody(byteCount: 4000)
            exchange.responseHead(status: 429, contentType: "application/json", contentEncoding: nil)
            Array(#"{"error":{"type":"rate_limit"}}"#.utf8).withUnsafeBytes { exchange.responseBody($0) }
            exchange.finish()
        }
        #expect(UsageLedger(directory: tree.root).records().isEmpty)
        // The agent hangs up mid-response: the proxy drops the exchange without finish().
        do {
            guard case .metered(let exchange) = meter.admit(host: "api.openai.com", path: "/v1/chat/completions") else { return }
            exchange.requestBody(byteCount: 4000)
            exchange.responseHead(status: 200, contentType: "text/event-stream", contentEncoding: nil)
        }
        #expect(UsageLedger(directory: tree.root).records().map(\.inputTokens) == [1000])
        // The upstream connection fails after the request went out: no response head at all.
        if case .metered(let exchange) = meter.admit(host: "api.anthropic.com", path: "/v1/messages") {
            exchange.requestBody(byteCount: 2000)
            exchange.requestBody(byteCount: 2001)
            exchange.finish()
            exchange.finish()
        }
        let last = UsageLedger(directory: tree.root).records().last
        #expect(UsageLedger(directory: tree.root).records().count == 2)
        #expect(last?.provider == "anthropic" && last?.inputTokens == 1001 && last?.outputTokens == 0 && last?.estimated == true)
    }
}

struct UsageLedgerTests {
    @Test func theLedgerIsPrivateAndATornLastLineIsSkippedAndEnded() throws {
        let tree = try TempTree()
        let directory = tree.root + "/state/usage"
        let ledger = UsageLedger(directory: directory)
        let record = UsageRecord(
            time: "2026-12-06T10:00:00.000Z", sandbox: "a", profile: "p", provider: "openai", model: "m\u{1b}[2J", inputTokens: 3, outputTokens: 4,
            cachedTokens: 1, estimated: false)
        try ledger.writer(sandbox: "a").append(record)
        var st = stat()
        #expect(stat(directory, &st) == 0 && st.st_mode & 0o777 == 0o700)
        #expect(stat(directory + "/a.jsonl", &st) == 0 && st.st_mode & 0o777 == 0o600)
        // A crash mid-write leaves half a line.
        let fd = open(directory + "/a.jsonl", O_WRONLY | O_APPEND)
        _ = "{\"time\":\"2026-12-06T10:00:01.000Z\",\"sandbox\":\"a\",\"inp".withCString { write(fd, $0, strlen($0)) }
        close(fd)
        #expect(ledger.records() == [record])
        try ledger.writer(sandbox: "a").append(record)
        #expect(ledger.records() == [record, record])
        // Widened by hand: private again at the next open.
        _ = chmod(directory, 0o755)
        _ = chmod(directory + "/a.jsonl", 0o644)
        _ = try ledger.writer(sandbox: "a")
        #expect(stat(directory, &st) == 0 && st.st_mode & 0o777 == 0o700)
        #expect(stat(directory + "/a.jsonl", &st) == 0 && st.st_mode & 0o777 == 0o600)
        #expect(ledger.sandboxes() == ["a"])
    }

    @Test(arguments: ["", ".", "..", "a/b", ".hidden"])
    func aLedgerNameIsOnePathComponent(name: String) {
        #expect(throws: CordonError.self) { try UsageLedger(directory: "/tmp/x").path(sandbox: name) }
    }

    @Test func calendarDaysAndMonthsAreUTC() {
        #expect(UsageCalendar.seconds(rfc3339: "1970-01-01T00:00:00Z") == 0)
        #expect(UsageCalendar.seconds(rfc3339: "2026-12-06T10:00:00.123Z") == 1_796_551_200)
        #expect(UsageCalendar.seconds(date: "2026-12-06") == 1_796_515_200)
        #expect(UsageCalendar.seconds(date: "2026-02-29") == nil)
        #expect(UsageCalendar.seconds(rfc3339: "2026-12-06T10:00:00+01:00") == nil)
        #expect(UsageCalendar.month(1_796_551_200) == 2026 * 12 + 11)
        #expect(UsageCalendar.month(UsageCalendar.seconds(date: "2024-02-29") ?? 0) == 2024 * 12 + 1)
        #expect(UsageCalendar.day(86_399) == 0 && UsageCalendar.day(86_400) == 1)
    }
}
