@testable import CordonSandbox
import CordonTestSupport
import Foundation
import Glibc
import Testing

/// After a run the supervisor syncs the upper layer's filesystem only when the run wrote to it:
/// a syncfs flushes every dirty page on that filesystem, which is most of an empty run's exit.
struct UpperChangeTests {
    @Test func aNewEmptyUpperNeedsNoSyncButAnythingWrittenBeneathItDoes() throws {
        let scratch = try TempTree(prefix: "cordon-upper")
        let upper = scratch.path("upper")
        try FileManager.default.createDirectory(atPath: upper, withIntermediateDirectories: false)
        let started = Int(time(nil)) - 1
        // Made by this run, nothing in it.
        #expect(!OverlayLayers.changed(upper, since: started))
        try FileManager.default.createDirectory(atPath: upper + "/src/deep", withIntermediateDirectories: true)
        #expect(OverlayLayers.changed(upper, since: started))
        #expect(FileManager.default.createFile(atPath: upper + "/src/deep/file", contents: Data("x".utf8)))
        #expect(OverlayLayers.changed(upper, since: started))
        // Everything there predates a later run.
        #expect(!OverlayLayers.changed(upper, since: Int(time(nil)) + 5))
    }

    /// The agent names its files: one whose name is not UTF-8 still counts as written.
    @Test func aFileWhoseNameIsNotUTF8CountsAsWritten() throws {
        let upper = NSTemporaryDirectory() + "cordon-upper-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: upper, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: upper) }
        let started = Int(time(nil)) - 1
        let path = Array(upper.utf8) + [0x2F, 0x66, 0xFF]
        let fd = open(path.map { CChar(bitPattern: $0) } + [0], O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
        #expect(fd >= 0)
        close(fd)
        #expect(OverlayLayers.changed(upper, since: started))
        _ = unlink(path.map { CChar(bitPattern: $0) } + [0])
    }
}
