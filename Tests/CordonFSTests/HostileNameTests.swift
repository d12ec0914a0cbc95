import CordonFS
import CordonOS
import CordonTestSupport
import Glibc
import Testing

/// Names in the upper layer are the agent's: none may map outside the workspace, none may vanish or
/// collapse into another, and the walk never follows a symlink.
@Suite struct HostileNameTests {
    func createRaw(_ dir: String, _ name: [UInt8], contents: String = "x") {
        let path = Array(dir.utf8) + [0x2F] + name + [0]
        let fd = path.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_WRONLY | O_CREAT | O_TRUNC, 0o644) } }
        precondition(fd >= 0)
        _ = contents.withCString { write(fd, $0, strlen($0)) }
        close(fd)
    }

    @Test(arguments: [".wh.", ".wh..", ".wh..."])
    func aWhiteoutNameThatNamesNothingIsAFindingNeverADeletion(name: String) throws {
        let lower = try TempTree()
        let upper = try TempTree()
        lower.write("keep.txt", "keep\n")
        upper.write("sub/" + name, "")
        let set = try ChangeSet.read(upper: upper.root, lower: lower.root)
        #expect(!set.changes.contains { $0.kind.isDeletion }, "\(set.changes)")
        #expect(!set.changes.contains { $0.path.hasPrefix("..") || $0.path == "sub" && $0.kind != .dirAdded })
        let entry = try #require(set.changes.first { $0.path == "sub/" + name })
        #expect(entry.flags.unsafeName != nil)
    }

    /// fuse-overlayfs' `.wh.NAME` and `.wh..wh..opq` are ordinary files to the kernel's overlayfs,
    /// which the agent can make: read as whiteouts they deleted host files the agent never
    /// deleted, and hid themselves from review. They are added files, held.
    @Test(arguments: [".wh.gone.txt", ".wh..wh..opq"])
    func aFuseOverlayWhiteoutNameIsAHeldFileNeverADeletion(name: String) throws {
        let lower = try TempTree()
        let upper = try TempTree()
        lower.write("gone.txt", "bye\n")
        lower.write("keep/report.txt", "important\n")
        upper.write(name, "")
        upper.write("keep/" + name, "")
        let set = try ChangeSet.read(upper: upper.root, lower: lower.root)
        #expect(!set.changes.contains { $0.kind.isDeletion }, "\(set.changes)")
        #expect(Set(set.changes.map(\.path)) == [name, "keep/" + name], "\(set.changes)")
        #expect(set.changes.allSatisfy { $0.kind == .added && $0.flags.unsafeName != nil })
    }

    @Test func namesThatAreNotUTF8AreListedEscapedDistinctAndHeld() throws {
        let lower = try TempTree()
        let upper = try TempTree()
        createRaw(upper.root, [0x61, 0xFF])
        createRaw(upper.root, [0x61, 0xFE])
        createRaw(upper.root, [0x61, 0xEF, 0xBF, 0xBD])  // "a\u{FFFD}", valid: what a lossy decoding makes of both
        let set = try ChangeSet.read(upper: upper.root, lower: lower.root)
        let paths = Set(set.changes.map(\.path))
        #expect(paths == ["a\\xFF", "a\\xFE", "a\u{FFFD}"], "\(paths)")
        #expect(set.changes.filter { $0.flags.unsafeName != nil }.count == 2)
    }

    @Test func aDirectoryWithAnInvalidNameIsHeldWholeNotEntered() throws {
        let lower = try TempTree()
        let upper = try TempTree()
        let dir = Array(upper.root.utf8) + [0x2F, 0x64, 0xFF, 0]
        _ = dir.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { Glibc.mkdir($0.baseAddress!, 0o755) } }
        createRaw(upper.root, Array("d\u{FFFD}".utf8), contents: "")  // a sibling with the lossy name, must stay separate
        let set = try ChangeSet.read(upper: upper.root, lower: lower.root)
        #expect(set.changes.contains { $0.path == "d\\xFF" && $0.kind == .dirAdded && $0.flags.unsafeName != nil })
        #expect(!set.changes.contains { $0.path.hasPrefix("d\\xFF/") })
    }

    @Test func aSymlinkTargetThatIsNotUTF8IsHeld() throws {
        let lower = try TempTree()
        let upper = try TempTree()
        let target: [UInt8] = [0x78, 0xFF, 0]
        let link = Array(upper.root.utf8) + Array("/l".utf8) + [0]
        target.withUnsafeBufferPointer { t in
            link.withUnsafeBufferPointer { l in
                t.withMemoryRebound(to: CChar.self) { tc in l.withMemoryRebound(to: CChar.self) { lc in _ = Glibc.symlink(tc.baseAddress!, lc.baseAddress!) } }
            }
        }
        let set = try ChangeSet.read(upper: upper.root, lower: lower.root)
        let entry = try #require(set.changes.first { $0.path == "l" })
        #expect(entry.symlinkTarget == "x\\xFF")
        #expect(entry.flags.unsafeName != nil)
    }

    /// A running sandbox: the files are copied as they are read, and the change set describes the
    /// copy; later writes to the upper change nothing of it.
    @Test func aSnapshotHoldsTheBytesReadAndTheChangeSetDescribesIt() throws {
        let lower = try TempTree()
        let upper = try TempTree()
        let state = try TempTree()
        upper.write("notes/a.txt", "checked\n")
        let snapshot = state.path("snapshot")
        let set = try ChangeSet.read(upper: upper.root, lower: lower.root, snapshot: snapshot)
        #expect(set.contents == snapshot)
        upper.write("notes/a.txt", "rewritten afterwards, longer\n")
        #expect(state.read("snapshot/notes/a.txt") == "checked\n")
        #expect(set.changes.first { $0.path == "notes/a.txt" }?.size == 8)
        // A snapshot never reuses a directory that exists (it could be stale or planted).
        #expect(throws: (any Error).self) { try ChangeSet.read(upper: upper.root, lower: lower.root, snapshot: snapshot) }
        try AnchoredDirectory.removeTree(snapshot)
        #expect(!state.exists("snapshot"))
    }

    @Test func removeTreeRemovesSymlinksAndNeverFollowsThem() throws {
        let state = try TempTree()
        let outside = try TempTree()
        outside.write("precious.txt", "keep\n")
        state.write("snap/d/file", "x")
        state.symlink("snap/d/link", to: outside.root)
        state.symlink("snap/top", to: outside.root)
        createRaw(state.path("snap/d"), [0x62, 0xFF])  // not UTF-8: removed too, not skipped
        try AnchoredDirectory.removeTree(state.path("snap"))
        #expect(!state.exists("snap"))
        #expect(outside.read("precious.txt") == "keep\n")
    }
}
