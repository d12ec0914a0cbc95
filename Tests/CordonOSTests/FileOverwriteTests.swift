import CordonOS
import CordonTestSupport
import Foundation
import Glibc
import Testing

/// `FileIO.overwrite` rewrites a small state file in place: the new bytes, nothing of the old
/// content past them, and never through a symlink.
struct FileOverwriteTests {
    @Test func writesOverCutsAndCreates() throws {
        let scratch = try TempTree(prefix: "cordon-overwrite")
        let path = scratch.path("record")
        try FileIO.overwrite(path, Array("a much longer first content\n".utf8))
        try FileIO.overwrite(path, Array("short\n".utf8))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "short\n")
        try FileIO.overwrite(path, Array("longer than short\n".utf8))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "longer than short\n")
    }

    @Test func aSymlinkIsNotFollowed() throws {
        let scratch = try TempTree(prefix: "cordon-overwrite")
        try "outside\n".write(toFile: scratch.path("target"), atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: scratch.path("link"), withDestinationPath: scratch.path("target"))
        #expect(throws: SystemError.self) { try FileIO.overwrite(scratch.path("link"), Array("x".utf8)) }
        #expect(try String(contentsOfFile: scratch.path("target"), encoding: .utf8) == "outside\n")
    }
}
