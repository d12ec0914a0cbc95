import CordonCore
import CordonOS
@testable import CordonSecrets
import Foundation
import Glibc
import Testing

/// Values in memory: kept out of core dumps, never shown, zeroed.
@Suite struct SecretBytesTests {
    /// The mapping's VmFlags in /proc/self/smaps carry `dd` (do not dump): the kernel leaves it
    /// out of a core dump.
    @Test func theMemoryIsLeftOutOfCoreDumps() throws {
        let memory = try LockedMemory(bytes: 100)
        let start = UInt(bitPattern: memory.base)
        let smaps = String(decoding: try FileIO.readFile("/proc/self/smaps"), as: UTF8.self)
        var inRegion = false
        var flags: String?
        for line in smaps.split(separator: "\n") {
            // A mapping line: "start-end perms …" (the kernel may merge it with a neighbour).
            let range = line.split(separator: " ").first?.split(separator: "-") ?? []
            if range.count == 2, let low = UInt(range[0], radix: 16), let high = UInt(range[1], radix: 16) {
                inRegion = low <= start && start < high
            } else if inRegion, line.hasPrefix("VmFlags:") {
                flags = String(line)
            }
        }
        let found = try #require(flags, "\(smaps.count) bytes; no mapping at \(String(start, radix: 16)) in /proc/self/smaps")
        #expect(found.split(separator: " ").contains("dd"), "\(found)")
    }

    @Test func wipingZeroesTheRegion() throws {
        let memory = try LockedMemory(bytes: 64)
        memory.base.initializeMemory(as: UInt8.self, repeating: 0x41, count: 64)
        memory.wipe()
        #expect((0..<memory.capacity).allSatisfy { memory.base.load(fromByteOffset: $0, as: UInt8.self) == 0 })
    }

    @Test func theDescriptionNeverShowsTheBytes() throws {
        let value = try Array("hunter2-value".utf8).withUnsafeBytes { buffer throws(CordonError) in try SecretBytes(copying: buffer) }
        #expect(!"\(value)".contains("hunter2") && !String(describing: value).contains("hunter2"))
    }

    @Test func stdinInputDropsOneLineEndOnly() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        try FileIO.writeAll(fd: fds[1], Array("value\n\n".utf8))
        close(fds[1])
        defer { close(fds[0]) }
        let value = try SecretBytes.readAll(from: fds[0], what: "test")
        value.removeTrailingNewline()
        #expect(value.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } == "value\n")
    }
}
