import CordonCore
import Synchronization

/// What the proxy asks before and reports after each request to an LLM API: whether the request
/// is metered or refused by a budget, then the response as it passes, so the tokens it reports
/// (or, when it reports none, an estimate) go to the ledger and count against the budgets.
///
/// Budgets count the profile's usage: every sandbox of the profile, as the ledger holds it when
/// the meter starts, plus what this meter has counted since. Another sandbox of the same profile
/// running at the same time is counted from its records written before this meter started.
/// Days and months are UTC. The request in flight when a budget is reached is counted when it
/// completes; the next one is refused.
public final class UsageMeter: Sendable {
    public enum Admission {
        /// Not an LLM API cordon meters: pass it on.
        case notMetered
        /// Metered: report the exchange's bytes to it and call `finish()`.
        case metered(UsageExchange)
        /// A budget is used up: answer HTTP 429 with `body` (JSON) and log `reason`.
        case blocked(body: String, reason: String)
    }

    let sandbox: String
    let profile: String
    let catalogue: ProviderCatalogue
    let budgets: BudgetSettings
    let ledger: UsageLedger
    let notice: @Sendable (String) -> Void
    let clock: @Sendable () -> String

    private struct State {
        var spent: SpentTokens
        var writer: UsageLedger.Writer?
        var writerFailed = false
    }

    private let state: Mutex<State>

    public convenience init(
        sandbox: String, profile: String, catalogue: ProviderCatalogue, budgets: BudgetSettings, ledger: UsageLedger,
        notice: @escaping @Sendable (String) -> Void
    ) {
        self.init(sandbox: sandbox, profile: profile, catalogue: catalogue, budgets: budgets, ledger: ledger, notice: notice, clock: { WallClock.rfc3339() })
    }

    /// `clock` gives the time records carry (RFC 3339 UTC); tests set it.
    public init(
        sandbox: String, profile: String, catalogue: ProviderCatalogue, budgets: BudgetSettings, ledger: UsageLedger,
        notice: @escaping @Sendable (String) -> Void, clock: @escaping @Sendable () -> String
    ) {
        self.sandbox = sandbox
        self.profile = profile
        self.catalogue = catalogue
        self.budgets = budgets
        self.ledger = ledger
        self.notice = notice
        self.clock = clock
        let spent = budgets.budgets.isEmpty ? SpentTokens() : SpentTokens(ledger.records().filter { $0.profile == profile })
        state = Mutex(State(spent: spent))
        // A budget already past a threshold is said at the start: no request will cross it now.
        if let seconds = UsageCalendar.seconds(rfc3339: clock()) {
            for budget in budgets.budgets {
                let used = spent.used(by: budget, at: seconds)
                let threshold: BudgetCheck.Threshold? =
                    BudgetCheck.reached(used, budgets.blockAt, of: budget.tokens)
                    ? .block : BudgetCheck.reached(used, budgets.warnAt, of: budget.tokens) ? .warn : nil
                if let threshold { notice(BudgetCheck.notice(budget, threshold, used: used, settings: budgets)) }
            }
        }
    }

    /// Checked before each request: a metered exchange, a refusal, or not metered at all.
    public func admit(host: String, path: String) -> Admission {
        guard let provider = catalogue.provider(host: host, path: path) else { return .notMetered }
        if let seconds = UsageCalendar.seconds(rfc3339: clock()),
            let (budget, used) = state.withLock({ BudgetCheck.blocking(budgets, spent: $0.spent, provider: provider.name, at: seconds) })
        {
            let refusal = BudgetCheck.refusal(budget, used: used, settings: budgets)
            return .blocked(body: refusal.body, reason: refusal.reason)
        }
        return .metered(UsageExchange(meter: self, provider: provider, path: path))
    }

    /// Records one exchange's usage: the ledger line, the budgets' counts, and a notice for each
    /// threshold this request crossed.
    func record(_ reading: UsageReading, provider: String, estimated: Bool) {
        let time = clock()
        let record = UsageRecord(
            time: time, sandbox: sandbox, profile: profile, provider: provider, model: reading.model ?? "unknown", inputTokens: reading.inputTokens,
            outputTokens: reading.outputTokens, cachedTokens: reading.cachedTokens, reasoningTokens: reading.reasoningTokens, estimated: estimated)
        let seconds = UsageCalendar.seconds(rfc3339: time) ?? 0
        var notices: [String] = []
        let writer: UsageLedger.Writer? = state.withLock { state in
            let before = state.spent
            state.spent.add(record.totalTokens, provider: provider, at: seconds)
            for crossing in BudgetCheck.crossed(budgets, before: before, after: state.spent, provider: provider, at: seconds) {
                notices.append(BudgetCheck.notice(crossing.budget, crossing.threshold, used: crossing.used, settings: budgets))
            }
            if state.writer == nil && !state.writerFailed {
                do throws(CordonError) { state.writer = try ledger.writer(sandbox: sandbox) } catch {
                    state.writerFailed = true
                    notices.append("usage: cannot write the usage ledger: \(error.description); usage is counted in memory only")
                }
            }
            return state.writer
        }
        writer?.append(record)
        for text in notices { notice(text) }
    }
}

/// One metered request and its response, fed by the proxy on one event loop. `finish()` records
/// it (an exchange dropped unfinished is recorded as it stands, so an aborted request still
/// counts).
public final class UsageExchange {
    let meter: UsageMeter
    public let provider: UsageProvider
    let path: String
    private var requestBytes = 0
    private var responseBytes = 0
    private var status: Int?
    private var extractor: UsageExtractor?
    private var finished = false

    init(meter: UsageMeter, provider: UsageProvider, path: String) {
        self.meter = meter
        self.provider = provider
        self.path = path
    }

    deinit { finish() }

    /// Bytes of the request body sent upstream (called once or per chunk).
    public func requestBody(byteCount: Int) { requestBytes += max(byteCount, 0) }

    /// The response's status and headers. A compressed body (the proxy asks for identity) is
    /// not read: its usage is estimated.
    public func responseHead(status: Int, contentType: String?, contentEncoding: String?) {
        self.status = status
        let encoding = contentEncoding?.lowercased().filter { $0 != " " && $0 != "\t" } ?? ""
        extractor =
            encoding.isEmpty || encoding == "identity"
            ? UsageExtractor(format: provider.format, framing: UsageExtractor.framing(contentType: contentType)) : nil
    }

    /// A piece of the response body, as it passes.
    public func responseBody(_ bytes: UnsafeRawBufferPointer) {
        responseBytes += bytes.count
        extractor?.feed(bytes)
    }

    /// Records the usage: what the response reported; else, for a response that was not an error
    /// (or never came), an estimate of (request + response bytes) / 4 marked `estimated`. An
    /// error response that reports no usage spent nothing and is not recorded.
    public func finish() {
        guard !finished else { return }
        finished = true
        if let reading = extractor?.finish(path: path) {
            meter.record(reading, provider: provider.name, estimated: false)
            return
        }
        if let status, status >= 400 { return }
        guard requestBytes + responseBytes > 0 else { return }
        let estimate = UsageReading(
            model: provider.format.model(fromPath: ProviderCatalogue.pathWithoutQuery(path)), inputTokens: (requestBytes + 3) / 4,
            outputTokens: (responseBytes + 3) / 4)
        meter.record(estimate, provider: provider.name, estimated: true)
    }
}
