import CordonCore
import CordonTestSupport
import Foundation
import Testing

@testable import CordonUsage

/// `cordon usage` through the real binary, on a ledger the test writes.
struct UsageCommandTests {
    static var cordon: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: exe).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("cordon").path) && url.path != "/" {
            url = url.deletingLastPathComponent()
        }
        return url.appendingPathComponent("cordon").path
    }

    /// On a thread of its own (`ProcessRunner.run`): a wait must not hold a cooperative-pool thread.
    static func run(_ arguments: [String], state: String) async throws -> ProcessResult {
        try await ProcessRunner.run(
            [cordon] + arguments, environment: ["HOME": state, "XDG_STATE_HOME": state, "XDG_CONFIG_HOME": state + "/config", "PATH": "/usr/bin:/bin"],
            timeout: .seconds(60))
    }

    static func writeLedger(_ state: String) throws {
        let ledger = UsageLedger(paths: CordonPaths(configHome: state + "/config/cordon", stateHome: state + "/cordon"))
        let now = WallClock.rfc3339()
        let one = try ledger.writer(sandbox: "one")
        one.append(
            UsageRecord(time: now, sandbox: "one", profile: "dev", provider: "openai", model: "gpt-4o", inputTokens: 1000, outputTokens: 234, estimated: false))
        one.append(
            UsageRecord(time: now, sandbox: "one", profile: "dev", provider: "openai", model: "gpt-4o", inputTokens: 6, outputTokens: 0, estimated: true))
        one.append(
            UsageRecord(
                time: "2020-01-01T00:00:00.000Z", sandbox: "one", profile: "dev", provider: "openai", model: "gpt-4o", inputTokens: 5000, outputTokens: 0,
                estimated: false))
        let two = try ledger.writer(sandbox: "two")
        two.append(
            UsageRecord(
                time: now, sandbox: "two", profile: "ops", provider: "anthropic", model: "evil\u{1b}]52;c;aGk=\u{07}", inputTokens: 10, outputTokens: 5,
                estimated: false))
        two.lines.write(lines: "{\"time\":\"2026-")  // torn
    }

    @Test func jsonRowsCountTodayTheMonthAndTheTotal() async throws {
        let tree = try TempTree()
        try Self.writeLedger(tree.root)
        let result = try await Self.run(["usage", "--json"], state: tree.root)
        #expect(result.status == 0, "\(result.stderr)")
        let json = try JSONValue.parse(Array(result.stdout.utf8))
        #expect(json["version"] == .int(1))
        #expect(json["since"] == .null)
        guard case .array(let rows)? = json["rows"], rows.count == 2 else {
            Issue.record("rows: \(result.stdout)")
            return
        }
        let one = rows[0]
        #expect(
            one["sandbox"] == .string("one") && one["profile"] == .string("dev") && one["provider"] == .string("openai") && one["model"] == .string("gpt-4o"))
        #expect(one["today"]?["total_tokens"] == .int(1240))
        #expect(one["today"]?["estimated_tokens"] == .int(6))
        #expect(one["today"]?["requests"] == .int(2))
        #expect(one["total"]?["total_tokens"] == .int(6240))
        #expect(one["total"]?["input_tokens"] == .int(6006))
        #expect(rows[1]["model"] == .string("evil\u{1b}]52;c;aGk=\u{07}"))

        let since = try await Self.run(["usage", "one", "--json", "--since", "1d"], state: tree.root)
        let recent = try JSONValue.parse(Array(since.stdout.utf8))
        guard case .array(let onlyOne)? = recent["rows"] else { return }
        #expect(onlyOne.count == 1)
        #expect(onlyOne.first?["total"]?["total_tokens"] == .int(1240))
        #expect(recent["since"] != .null)
    }

    @Test func textMarksEstimatesAndEscapesWhatTheProviderNamed() async throws {
        let tree = try TempTree()
        try Self.writeLedger(tree.root)
        let result = try await Self.run(["usage"], state: tree.root)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("~1,240"), "\(result.stdout)")
        #expect(result.stdout.contains("~6,240"))
        #expect(result.stdout.contains("includes estimated tokens"))
        #expect(!result.stdout.unicodeScalars.contains("\u{1b}") && !result.stdout.unicodeScalars.contains("\u{07}"), "\(result.stdout)")
        let since = try await Self.run(["usage", "--since", "2020-01-02"], state: tree.root)
        #expect(!since.stdout.contains("6,240") && since.stdout.contains("1,240"), "\(since.stdout)")
        let none = try await Self.run(["usage", "three"], state: tree.root)
        #expect(none.status == 0 && none.stdout.contains("three: no LLM usage recorded"), "\(none.stdout)")
    }

    @Test(arguments: [["usage", "--since", "yesterday"], ["usage", "../x"], ["usage", "--since", "2026-13-01"]])
    func badArgumentsAreRefused(arguments: [String]) async throws {
        let tree = try TempTree()
        let result = try await Self.run(arguments, state: tree.root)
        #expect(result.status != 0)
        #expect(!result.stderr.isEmpty)
    }
}
