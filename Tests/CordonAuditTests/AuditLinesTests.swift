import CordonAudit
import CordonTestSupport
import Glibc
import Testing

/// What `cordon audit --follow` reads: whole lines only, a line being written waits for its end,
/// and reading goes on from where it stopped as the log grows.
struct AuditLinesTests {
    @Test func aLineBeingWrittenWaitsForItsEnd() throws {
        let tree = try TempTree()
        tree.write("log", "{\"a\":1}\n{\"b\":", mode: 0o600)
        var lines = try AuditLines(path: tree.path("log"))
        #expect(try lines.next(partial: false).map { String(decoding: $0.bytes, as: UTF8.self) } == "{\"a\":1}")
        #expect(try lines.next(partial: false) == nil)
        let fd = open(tree.path("log"), O_WRONLY | O_APPEND)
        _ = write(fd, "2}\n", 3)
        close(fd)
        let next = try #require(try lines.next(partial: false))
        #expect(String(decoding: next.bytes, as: UTF8.self) == "{\"b\":2}" && next.terminated)
        #expect(lines.offset == 16)
    }

    @Test func aCutLastLineIsReturnedWhenAsked() throws {
        let tree = try TempTree()
        tree.write("log", "{\"a\":1}\n{\"b\":", mode: 0o600)
        var lines = try AuditLines(path: tree.path("log"))
        _ = try lines.next(partial: true)
        let cut = try #require(try lines.next(partial: true))
        #expect(!cut.terminated && cut.bytes == Array("{\"b\":".utf8))
    }
}
