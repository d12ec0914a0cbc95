import CordonOS
import CordonTestSupport
import Glibc
import Testing

/// Directory names as the walks over an upper layer need them: every name, raw bytes kept (the
/// agent chooses them), "." and ".." never, the caller's descriptor left open and usable.
struct DirectoryListingTests {
    @Test func namesAreRawAndTheDescriptorStaysTheCallers() throws {
        let tree = try TempTree()
        tree.mkdir("d")
        tree.write("d/plain", "x")
        tree.mkdir("d/sub")
        // A name that is not UTF-8: listed as its bytes, not replaced.
        let odd: [UInt8] = [0x66, 0xFF, 0x0A]
        let path = Array(tree.path("d").utf8) + [0x2F] + odd
        let fd = open(path.map { CChar(bitPattern: $0) } + [0], O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
        #expect(fd >= 0)
        close(fd)

        let dir = open(tree.path("d"), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        #expect(dir >= 0)
        defer { close(dir) }
        let names = try #require(DirectoryListing.names(ofDirectory: dir))
        #expect(Set(names) == [Array("plain".utf8), Array("sub".utf8), odd])
        // Read again through the same descriptor: the same names, and it is still open.
        #expect(try #require(DirectoryListing.names(ofDirectory: dir)).count == 3)
        var st = stat()
        #expect(fstatat(dir, "sub", &st, AT_SYMLINK_NOFOLLOW) == 0)
        #expect(Set(try #require(DirectoryListing.names(at: tree.path("d")))).isSuperset(of: ["plain", "sub"]))
    }

    @Test func aSymlinkOrAFileIsNoDirectoryToList() throws {
        let tree = try TempTree()
        tree.mkdir("d")
        tree.write("f", "x")
        tree.symlink("link", to: tree.path("d"))
        #expect(DirectoryListing.names(at: tree.path("link")) == nil)
        #expect(DirectoryListing.names(at: tree.path("f")) == nil)
        #expect(DirectoryListing.names(at: tree.path("missing")) == nil)
    }
}
