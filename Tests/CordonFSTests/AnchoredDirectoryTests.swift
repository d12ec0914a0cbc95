import CordonCore
import CordonTestSupport
import Glibc
import Testing

@testable import CordonFS
@testable import CordonOS

@Suite struct AnchoredDirectoryTests {
    func copy(_ text: String, into tree: AnchoredDirectory, at rel: String, mode: UInt32 = 0o640) throws {
        let source = try TempTree()
        source.write("src", text)
        let fd = open(source.path("src"), O_RDONLY | O_CLOEXEC)
        defer { close(fd) }
        try tree.createFile(rel, from: fd, mode: mode, durable: false)
    }

    @Test func createFileReplacesALeftoverSymlinkWithoutWritingThroughIt() throws {
        let root = try TempTree()
        let outside = try TempTree()
        outside.write("target", "outside")
        root.symlink("temp", to: outside.path("target"))
        let tree = try AnchoredDirectory(root.root)
        try copy("staged", into: tree, at: "temp", mode: 0o751)
        #expect(outside.read("target") == "outside")
        #expect(root.read("temp") == "staged")
        #expect(root.mode("temp") == 0o751)
        try tree.syncFilesystem()
    }

    @Test func createFileReplacesALeftoverFileButNeverADirectory() throws {
        let root = try TempTree()
        root.write("sub/temp", "old")
        root.write("sub/dir/kept", "kept")
        let tree = try AnchoredDirectory(root.root)
        try copy("new", into: tree, at: "sub/temp")
        #expect(root.read("sub/temp") == "new")
        #expect(throws: CordonError.self) { try copy("new", into: tree, at: "sub/dir") }
        #expect(root.read("sub/dir/kept") == "kept")
    }

    @Test func replaceRenamesOverFilesOnlyAndReportsAMissingSource() throws {
        let root = try TempTree()
        root.write("a.tmp", "new")
        root.write("a", "old")
        root.write("b.tmp", "new")
        root.write("b/inside", "x")
        let tree = try AnchoredDirectory(root.root)
        #expect(try tree.replace("a.tmp", over: "a"))
        #expect(root.read("a") == "new")
        #expect(try tree.replace("a.tmp", over: "a") == false)
        #expect(throws: CordonError.self) { try tree.replace("b.tmp", over: "b") }
        #expect(root.read("b/inside") == "x")
    }

    @Test func readingRefusesSymlinksAnywhereOnThePath() throws {
        let root = try TempTree()
        let outside = try TempTree()
        outside.write("secret", "s")
        root.symlink("link", to: outside.path("secret"))
        root.symlink("dir", to: outside.root)
        root.write("real/file", "f")
        let tree = try AnchoredDirectory(root.root)
        #expect(throws: CordonError.self) { try tree.openForReading("link") }
        #expect(throws: CordonError.self) { try tree.openForReading("dir/secret") }
        let fd = try tree.openForReading("real/file")
        close(fd)
    }
}
