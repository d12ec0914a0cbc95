@testable import CordonSandbox
import CordonTestSupport
import Foundation
import Glibc
import Testing

/// Run as root, each sandbox is a block of host ids of its own: kept across its runs, never
/// shared with another sandbox, and a block cannot be taken over by editing a sandbox's record.
@Suite(.timeLimit(.minutes(5)))
struct IdentityRangeTests {
    @Test func blocksAreStablePerSandboxAndNeverShared() throws {
        let root = try TempTree.makeDirectory(prefix: "cordon-range")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let registry = root + "/registry"
        let a = try IdentityRange.forSandbox(directory: root + "/a", registry: registry)
        let b = try IdentityRange.forSandbox(directory: root + "/b", registry: registry)
        #expect(a.block != b.block)
        #expect(try IdentityRange.forSandbox(directory: root + "/a", registry: registry) == a)
        #expect(a.base >= 0x7000_0000 && a.base + IdentityRange.size <= 0x7FFE_0000)
        #expect(a.base % IdentityRange.size == 0)

        // b's record forged to name a's block: the registry says whose it is, b gets a new one.
        try "\(a.block)\n".write(toFile: root + "/b/" + IdentityRange.recordName, atomically: true, encoding: .utf8)
        let again = try IdentityRange.forSandbox(directory: root + "/b", registry: registry)
        #expect(again.block != a.block)
        #expect(try String(contentsOfFile: registry + "/\(a.block)", encoding: .utf8) == root + "/a")
    }

    /// Blocks of deleted sandboxes are taken back (a registry never fills up with the dead), and
    /// a live sandbox's block never is.
    @Test func blocksOfDeletedSandboxesAreTakenBack() throws {
        let root = try TempTree.makeDirectory(prefix: "cordon-range")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let registry = root + "/registry"
        let live = try IdentityRange.forSandbox(directory: root + "/live", registry: registry)
        // Every other block held by sandboxes that no longer exist.
        for block in 0..<IdentityRange.blocks where block != live.block {
            let fd = open(registry + "/\(block)", O_WRONLY | O_CREAT | O_EXCL, 0o600)
            try #require(fd >= 0)
            let text = Array((root + "/gone-\(block)").utf8)
            _ = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }
        let fresh = try IdentityRange.forSandbox(directory: root + "/fresh", registry: registry)
        #expect(fresh.block != live.block)
        #expect(try String(contentsOfFile: registry + "/\(fresh.block)", encoding: .utf8) == root + "/fresh")
        #expect(try IdentityRange.forSandbox(directory: root + "/live", registry: registry) == live)
    }
}
