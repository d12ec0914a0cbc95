import CordonCore
import CordonOS
import Foundation
import Testing

/// A host tool run through pipes: input streamed while output and errors are read, so neither
/// side blocks on a full pipe; a child that stops reading ends the input, not this process.
@Suite(.timeLimit(.minutes(1)))
struct HostProcessTests {
    /// Feeds `data` in chunks of `size`.
    static func chunks(_ data: [UInt8], size: Int) -> () throws(CordonError) -> [UInt8]? {
        var offset = 0
        return { () throws(CordonError) -> [UInt8]? in
            guard offset < data.count else { return nil }
            defer { offset += size }
            return Array(data[offset..<min(offset + size, data.count)])
        }
    }

    @Test func largeInputAndOutputFlowBothWays() throws {
        let data = (0..<(4 * 1024 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let out = try HostProcess.run(path: "/bin/cat", arguments: ["cat"], environment: [], input: Self.chunks(data, size: 100_000))
        #expect(out.status == 0)
        #expect(out.stdout == data)
    }

    @Test func aChildWritingErrorsBeforeItReadsDoesNotDeadlock() throws {
        let data = [UInt8](repeating: 0x61, count: 1024 * 1024)
        let out = try HostProcess.run(
            path: "/bin/sh", arguments: ["sh", "-c", "head -c 1000000 /dev/zero >&2; wc -c"], environment: ["PATH=/usr/bin:/bin"],
            input: Self.chunks(data, size: 65536))
        #expect(out.status == 0)
        #expect(String(decoding: out.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == "1048576")
        #expect(out.stderr.count == HostProcess.errorLimit)
    }

    @Test func aChildThatReadsNothingEndsTheInputQuietly() throws {
        let data = [UInt8](repeating: 0x62, count: 8 * 1024 * 1024)
        let out = try HostProcess.run(path: "/bin/true", arguments: ["true"], environment: [], input: Self.chunks(data, size: 1 << 20))
        #expect(out.status == 0)
    }

    @Test func theEnvironmentIsExactlyTheOneGiven() throws {
        let out = try HostProcess.run(path: "/usr/bin/env", arguments: ["env"], environment: ["ONLY=this"])
        #expect(String(decoding: out.stdout, as: UTF8.self) == "ONLY=this\n")
    }

    @Test func anInputErrorKillsTheChildAndIsThrown() {
        var calls = 0
        #expect(throws: CordonError.self) {
            _ = try HostProcess.run(
                path: "/bin/cat", arguments: ["cat"], environment: [],
                input: { () throws(CordonError) -> [UInt8]? in
                    calls += 1
                    if calls > 2 { throw CordonError(.io, "the source went away") }
                    return [1, 2, 3]
                })
        }
    }
}
