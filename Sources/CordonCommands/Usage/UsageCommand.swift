import ArgumentParser
import CordonAudit
import CordonCore
import CordonSandbox
import CordonUsage

/// `cordon usage [NAME]`: the LLM tokens sandboxes spent, from the usage ledger.
struct UsageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usage",
        abstract: "Show the LLM tokens sandboxes spent: per sandbox, profile, provider and model; today, this month and in total.",
        discussion: """
            Tokens are input + output as the provider's responses reported them; "~" marks counts that \
            include estimates ((request + response bytes) / 4, for responses that reported no usage). \
            Days and months are UTC. Removed sandboxes' usage stays in the ledger (<state>/usage). \
            --since takes a date (2026-12-01, from 00:00 UTC), an RFC 3339 time, or a duration back \
            from now (7d, 24h, 30m); it applies to every column. --json: docs/json.md, "cordon usage".
            """
    )

    @Argument(help: "Only this sandbox (default: every sandbox with usage).", completion: .custom(Completions.sandboxes))
    var name: String?

    @Flag(help: "Print JSON: {version, since, rows: [{sandbox, profile, provider, model, today, month, total}]} (docs/json.md).")
    var json = false

    @Option(help: ArgumentHelp("Only usage from this time on: a date (2026-12-01), RFC 3339, or a duration such as 7d or 24h.", valueName: "TIME"))
    var since: String?

    func validate() throws {
        if let since, Self.sinceSeconds(since) == nil {
            throw ValidationError("--since \(since): expected a date such as 2026-12-01, an RFC 3339 time, or a duration such as 7d, 24h or 30m")
        }
        if let name {
            do { try SandboxName.validate(name) } catch { throw ValidationError("\(error.message)") }
        }
    }

    static func sinceSeconds(_ text: String) -> Int? {
        UsageCalendar.seconds(date: text) ?? AuditTime.since(text).map { $0 / 1000 }
    }

    func run() throws {
        let now = AuditTime.nowMilliseconds() / 1000
        let start = since.flatMap(Self.sinceSeconds)
        let records = UsageLedger(paths: .current()).records(sandbox: name)
        let rows = UsageSummary.rows(records, now: now, since: start)
        if json {
            JSONOutput.print([
                ("since", start.map { .string(UsageCalendar.rfc3339($0)) } ?? .null),
                ("rows", .array(rows.map(Self.json))),
            ])
            return
        }
        guard !rows.isEmpty else {
            print(name.map { "\(TerminalText.escaped($0)): no LLM usage recorded" } ?? "no LLM usage recorded")
            return
        }
        var table = [["SANDBOX", "PROFILE", "PROVIDER", "MODEL", "TODAY", "MONTH", "TOTAL", "REQUESTS"]]
        for row in rows {
            table.append(
                [row.sandbox, row.profile, row.provider, row.model].map(TerminalText.escaped) + [row.today, row.month, row.total].map(Self.cell)
                    + [String(row.total.requests)])
        }
        var all = (today: UsageSummary.Count(), month: UsageSummary.Count(), total: UsageSummary.Count())
        for row in rows {
            all.today.add(row.today)
            all.month.add(row.month)
            all.total.add(row.total)
        }
        if rows.count > 1 { table.append(["all", "", "", ""] + [all.today, all.month, all.total].map(Self.cell) + [String(all.total.requests)]) }
        print(SandboxStatusView.table(table))
        if all.total.estimatedTokens > 0 {
            print("~ includes estimated tokens: (request + response bytes) / 4 where the response reported no usage")
        }
    }

    /// Tokens with thousands separators, `~` first when part of them is estimated.
    static func cell(_ count: UsageSummary.Count) -> String {
        var digits = String(count.tokens)
        var grouped = ""
        while digits.count > 3 {
            grouped = "," + digits.suffix(3) + grouped
            digits.removeLast(3)
        }
        return (count.estimatedTokens > 0 ? "~" : "") + digits + grouped
    }

    static func json(_ row: UsageSummary.Row) -> JSONValue {
        func count(_ c: UsageSummary.Count) -> JSONValue {
            .object([
                ("input_tokens", .int(c.inputTokens)), ("output_tokens", .int(c.outputTokens)), ("total_tokens", .int(c.tokens)),
                ("estimated_tokens", .int(c.estimatedTokens)), ("requests", .int(c.requests)),
            ])
        }
        return .object([
            ("sandbox", .string(row.sandbox)), ("profile", .string(row.profile)), ("provider", .string(row.provider)), ("model", .string(row.model)),
            ("today", count(row.today)), ("month", count(row.month)), ("total", count(row.total)),
        ])
    }
}
