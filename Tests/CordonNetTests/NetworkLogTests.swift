import CordonCore
import CordonTestSupport
import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import CordonNet

/// Lines recorded on event loops are written at the end of the loop's turn, together: none is
/// lost or torn, with both loops and callers off any loop recording at once, and nobody has to
/// call `flush` for them to reach the file.
@Suite(.timeLimit(.minutes(2))) struct NetworkLogTests {
    @Test func linesFromEveryLoopReachTheFileWhole() async throws {
        let scratch = try TempTree(prefix: "cordon-netlog")
        let path = scratch.path("network.jsonl")
        let log = try NetworkLog(sandbox: "box", path: path)
        let group = MultiThreadedEventLoopGroup.singleton
        let perCaller = 300
        @Sendable func entry(_ caller: Int, _ index: Int) -> NetworkLogEntry {
            NetworkLogEntry(
                client: "c\(caller)", method: "GET", host: "h\(index).test", port: 80, resolvedAddress: nil, decision: "allow",
                rule: "domains", reason: "line \(index) with \"quotes\"", bytesUp: index, bytesDown: 0, durationMilliseconds: 0)
        }
        var futures: [EventLoopFuture<Void>] = []
        for caller in 0..<4 {
            futures.append(group.next().submit { for index in 0..<perCaller { log.record(entry(caller, index)) } })
        }
        for index in 0..<perCaller { log.record(entry(9, index)) }  // off any loop: written at once
        for future in futures { try await future.get() }
        var lines: [String] = []
        for _ in 0..<200 {
            lines = (try? String(contentsOfFile: path, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
            if lines.count >= 5 * perCaller { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(lines.count == 5 * perCaller)
        var seen = Set<String>()
        for line in lines {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
            seen.insert("\(object["client"] ?? "") \(object["bytes_up"] ?? "")")
        }
        #expect(seen.count == 5 * perCaller)
        #expect(log.summary.allowed == 5 * perCaller)
    }

    /// The line written field by field is exactly the JSON the generic encoder makes of the same
    /// fields, escapes and a missing address included.
    @Test func aLineIsTheJSONOfItsFields() throws {
        let log = try NetworkLog(sandbox: "b\"ox", path: nil)
        for address in [nil, "127.0.0.1"] as [String?] {
            let entry = NetworkLogEntry(
                time: "2026-11-24T00:00:00.000Z", client: "127.0.0.1:5", method: "GET", host: "a.test", port: 443, resolvedAddress: address,
                decision: "deny", rule: "deny:a.test", reason: "tab\there \\ \u{1}\n ünï", bytesUp: 12, bytesDown: -1, durationMilliseconds: 7)
            let expected = JSONLinesWriter.line([
                ("time", .string(entry.time)), ("sandbox", .string("b\"ox")), ("client", .string(entry.client)), ("method", .string(entry.method)),
                ("host", .string(entry.host)), ("port", .int(entry.port)), ("address", address.map(JSONValue.string) ?? .null),
                ("decision", .string(entry.decision)), ("rule", .string(entry.rule)), ("reason", .string(entry.reason)),
                ("bytes_up", .int(entry.bytesUp)), ("bytes_down", .int(entry.bytesDown)), ("duration_ms", .int(entry.durationMilliseconds)),
            ])
            #expect(log.line(entry) == expected)
            #expect(try JSONSerialization.jsonObject(with: Data(log.line(entry).utf8)) is [String: Any])
        }
    }

    /// Once the proxy stops, a line recorded on an event loop is in the file when `record`
    /// returns: nothing waits for a turn that a process on its way out may never finish.
    @Test func afterStopLinesAreWrittenAtOnce() async throws {
        let scratch = try TempTree(prefix: "cordon-netlog")
        let path = scratch.path("network.jsonl")
        let log = try NetworkLog(sandbox: "box", path: path)
        let entry = NetworkLogEntry(client: "c", method: "GET", host: "a.test", port: 80, decision: "allow", rule: "r", reason: "x")
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        func linesInFileRightAfterRecording() async throws -> Int {
            try await loop.submit {
                log.record(entry)
                return ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").count
            }.get()
        }
        #expect(try await linesInFileRightAfterRecording() == 0)  // batched: written at the end of the turn
        log.stopBatching()
        #expect(((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").count == 1)
        #expect(try await linesInFileRightAfterRecording() == 2)
    }
}
