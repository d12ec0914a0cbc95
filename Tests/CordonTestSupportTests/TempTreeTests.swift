import CordonTestSupport
import Testing

/// Scratch trees are fresh and private to the test, removed afterwards, and a tree that cannot be
/// made is an error, never a shared fallback path.
struct TempTreeTests {
    @Test func aTreeThatCannotBeMadeIsAnError() {
        #expect(throws: TestSupportError.self) { try TempTree(prefix: "no-such-directory/cordon") }
        #expect(throws: TestSupportError.self) { try TempTree.makeDirectory(prefix: "no-such-directory/cordon") }
    }

    @Test func treesAreFreshPrivateAndRemoved() throws {
        var root = ""
        do {
            let first = try TempTree(prefix: "cordon-temp")
            let second = try TempTree(prefix: "cordon-temp")
            #expect(first.root != second.root)
            #expect(first.mode("") == 0o700)
            first.write("locked/inner/file", "x")
            first.mkdir("locked", mode: 0o000)
            first.symlink("escape", to: "/etc")
            root = first.root
            #expect(CordonTestSupportPaths.exists(root))
        }
        #expect(!root.isEmpty)
        #expect(!CordonTestSupportPaths.exists(root))
        #expect(CordonTestSupportPaths.exists("/etc/passwd"))
    }
}
