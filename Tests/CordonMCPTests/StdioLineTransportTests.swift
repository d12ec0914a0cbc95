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
}
