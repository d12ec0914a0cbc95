import Foundation
import Glibc
import Logging
import Testing

@testable import CordonMCP

/// The stdio transport's reader: one message per line, empty lines skipped, a last line without
/// its newline still delivered, and input that never ends a line past the limit cut off.
@Suite(.timeLimit(.minutes(1)))
struct StdioLineTransportTests {
    func lines(_ text: [UInt8], limit: Int = 1 << 20) throws -> [String] {
        var ends: [Int32] = [-1, -1]
        #expect(pipe(&ends) == 0)
        let writer = ends[1]
        let thread = Thread {
            _ = text.withUnsafeBytes { Glibc.write(writer, $0.baseAddress, $0.count) }
            close(writer)
        }
        thread.start()
        var got: [String] = []
        StdioLineTransport.readLines(from: ends[0], limit: limit, logger: Logger(label: "test")) { got.append(String(decoding: $0, as: UTF8.self)) }
        close(ends[0])
        return got
    }

    @Test func oneMessagePerLine() throws {
        #expect(try lines(Array("{\"a\":1}\n\n{\"b\":2}\n{\"c\":3}".utf8)) == ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"])
    }

    @Test func aLineOverTheLimitEndsTheInput() throws {
        #expect(try lines(Array("{\"a\":1}\n".utf8) + [UInt8](repeating: 0x61, count: 60_000), limit: 1000) == ["{\"a\":1}"])
    }

    /// What `cordon mcp` waits for once input ends: requests read less answers written, whatever
    /// the SDK's handlers have started. Notifications either way count for nothing; so does junk.
    @Test func theLedgerCountsRequestsUntilTheirAnswersAreWritten() {
        let ledger = StdioLineTransport.Ledger()
        let messages = [
            #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#,
            #"{"jsonrpc":"2.0","id":"two","method":"tools/list"}"#,
            #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            #"{"jsonrpc":"2.0","id":null,"method":"odd"}"#,
            "not json",
        ]
        for message in messages { ledger.read(Data(message.utf8)) }
        #expect(ledger.unanswered == 2)
        ledger.wrote(Data(#"{"jsonrpc":"2.0","method":"notifications/progress","params":{}}"#.utf8))
        #expect(ledger.unanswered == 2)
        ledger.wrote(Data(#"{"jsonrpc":"2.0","id":"two","result":{}}"#.utf8))
        ledger.wrote(Data(#"{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"x"}}"#.utf8))
        #expect(ledger.unanswered == 0)
    }
}
