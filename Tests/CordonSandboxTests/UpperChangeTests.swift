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
}
