import CordonCore
import CordonTestSupport
import Foundation
import Glibc
import Testing

/// The event and network logs: one whole JSON object per line, keys in the order given, lines
/// from concurrent writers never torn or interleaved, and a file only its owner can read.
struct JSONLinesWriterTests {
    @Test func linesKeepKeyOrderAndEscapeWhatJSONRequires() throws {
        let scratch = try TempTree(prefix: "cordon-jsonl")
        let writer = try JSONLinesWriter(path: scratch.path("events.jsonl"))
        writer.append(["z": "last\u{0}\u{1B}", "a": 1, "m": .array([.null, .double(.infinity), .double(0.5)]), "q": "\"\\\n\r\t"])
        writer.append(pairs: [("event", "b")])
        #expect(
            scratch.read("events.jsonl") == """
                {"z":"last\\u0000\\u001b","a":1,"m":[null,null,0.5],"q":"\\"\\\\\\n\\r\\t"}
                {"event":"b"}

                """)
        #expect(scratch.mode("events.jsonl") == 0o600)
    }

    @Test func anExistingLogIsAppendedTo() throws {
        let scratch = try TempTree(prefix: "cordon-jsonl")
        scratch.write("events.jsonl", "{\"earlier\":true}\n")
        try JSONLinesWriter(path: scratch.path("events.jsonl")).append(["later": true])
        #expect(scratch.read("events.jsonl") == "{\"earlier\":true}\n{\"later\":true}\n")
    }

    @Test func aLogThatCannotBeOpenedIsAnErrorNamingIt() {
        let path = "/nonexistent-cordon-dir/events.jsonl"
        #expect {
            try JSONLinesWriter(path: path)
        } throws: { error in
            (error as? CordonError)?.code == .io && "\(error)".contains(path)
        }
    }

    /// Eight threads append long lines at once: every line reads back whole and none is lost.
    @Test(.timeLimit(.minutes(1)))
    func concurrentWritersNeverTearALine() async throws {
        let scratch = try TempTree(prefix: "cordon-jsonl")
        let writer = try JSONLinesWriter(path: scratch.path("events.jsonl"))
        let padding = String(repeating: "x", count: 3000)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for thread in 0..<8 {
                group.addTask {
                    try await onOwnThread {
                        for index in 0..<200 { writer.append(["thread": .int(thread), "index": .int(index), "pad": .string(padding)]) }
                    }
                }
            }
            try await group.waitForAll()
        }
        let lines = (scratch.read("events.jsonl") ?? "").split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == 8 * 200)
        var seen = Set<String>()
        for line in lines {
            let value = try JSONValue.parse(Array(line.utf8))
            #expect(value["pad"] == .string(padding))
            seen.insert("\(value["thread"].map { $0.encoded() } ?? "?")/\(value["index"].map { $0.encoded() } ?? "?")")
        }
        #expect(seen.count == 8 * 200)
    }
}
