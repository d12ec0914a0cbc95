import CordonCore
import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import CordonNet

/// Lines recorded on event loops are written at the end of the loop's turn, together: none is
/// lost or torn, with both loops and callers off any loop recording at once, and nobody has to
/// call `flush` for them to reach the file.
@Suite struct NetworkLogTests {
    @Test func linesFromEveryLoopReachTheFileWhole() async throws {
        let path = "/tmp/cordon-netlog-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).jsonl"
        defer { unlink(path) }
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
}
