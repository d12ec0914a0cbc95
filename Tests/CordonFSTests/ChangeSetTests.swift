import CordonTestSupport
import CordonFS
import Testing

@Suite struct ChangeSetTests {
    /// A lower tree and an upper tree side by side.
    final class Layers {
        let tree: TempTree
        let lower: TempTree
        let upper: TempTree
        init() throws {
            tree = try TempTree()
            lower = try TempTree()
            upper = try TempTree()
        }
        func read() throws -> ChangeSet { try ChangeSet.read(upper: upper.root, lower: lower.root) }
    }

    func kinds(_ set: ChangeSet) -> [String: Change.Kind] {
        Dictionary(set.changes.map { ($0.path, $0.kind) }, uniquingKeysWith: { a, _ in a })
    }

    @Test func addedModifiedUnchangedAndModeChanged() throws {
        let l = try Layers()
        l.lower.write("same.txt", "hello\n")
        l.lower.write("edit.txt", "one\n")
        l.lower.write("chmod.sh", "echo\n", mode: 0o644)
        l.upper.write("same.txt", "hello\n")  // copied up but unchanged
        l.upper.write("edit.txt", "two\n")
        l.upper.write("chmod.sh", "echo\n", mode: 0o755)
        l.upper.write("new/file.txt", "fresh")
        let set = try l.read()
        let k = kinds(set)
        #expect(k["same.txt"] == nil)
        #expect(k["edit.txt"] == .modified)
        #expect(k["chmod.sh"] == .modeChanged)
        #expect(k["new"] == .dirAdded)
        #expect(k["new/file.txt"] == .added)
        let added = set.changes.first { $0.path == "new/file.txt" }
        #expect(added?.size == 5)
        #expect(set.changes.first { $0.path == "chmod.sh" }?.flags.executableAdded == true)
        // A directory comes before its contents.
        let dirIndex = set.changes.firstIndex { $0.path == "new" } ?? -1
        let fileIndex = set.changes.firstIndex { $0.path == "new/file.txt" } ?? -1
        #expect(dirIndex < fileIndex)
    }

    @Test(arguments: ["chardev", "user", "trusted"])
    func whiteoutsInEveryForm(form: String) throws {
        let l = try Layers()
        l.lower.write("gone.txt", "bye")
        l.lower.write("dir/a.txt", "a")
        l.lower.write("dir/sub/b.txt", "b")
        switch form {
        case "chardev":
            l.upper.whiteout("gone.txt")
            l.upper.whiteout("dir")
        default:
            l.upper.xattrWhiteout("gone.txt", namespace: form)
            l.upper.xattrWhiteout("dir", namespace: form)
        }
        let set = try l.read()
        let k = kinds(set)
        #expect(k["gone.txt"] == .deleted)
        #expect(k["dir/a.txt"] == .deleted)
        #expect(k["dir/sub/b.txt"] == .deleted)
        #expect(k["dir/sub"] == .dirRemoved)
        #expect(k["dir"] == .dirRemoved)
        #expect(set.changes.count == 5)
        // Contents are removed before their directory.
        let sub = set.changes.firstIndex { $0.path == "dir/sub" } ?? -1
        let b = set.changes.firstIndex { $0.path == "dir/sub/b.txt" } ?? -1
        #expect(b < sub)
        #expect(set.changes.first { $0.path == "gone.txt" }?.size == 3)
    }

    @Test(arguments: ["trusted", "user"])
    func opaqueDirectoryReplacesLower(namespace: String) throws {
        let l = try Layers()
        l.lower.write("d/keep.txt", "old")
        l.lower.write("d/drop.txt", "x")
        l.lower.write("d/deep/y.txt", "y")
        l.upper.opaque("d", namespace: namespace)
        l.upper.write("d/keep.txt", "new")
        l.upper.write("d/added.txt", "z")
        let k = kinds(try l.read())
        #expect(k["d"] == .dirReplaced)
        #expect(k["d/keep.txt"] == .modified)
        #expect(k["d/added.txt"] == .added)
        #expect(k["d/drop.txt"] == .deleted)
        #expect(k["d/deep/y.txt"] == .deleted)
        #expect(k["d/deep"] == .dirRemoved)
    }

    @Test func renameIsDeleteAndAdd() throws {
        let l = try Layers()
        l.lower.write("old.txt", "content")
        l.upper.whiteout("old.txt")
        l.upper.write("new.txt", "content")
        let k = kinds(try l.read())
        #expect(k == ["old.txt": .deleted, "new.txt": .added])
    }

    @Test func symlinksAreReadNotFollowed() throws {
        let l = try Layers()
        l.lower.symlink("link", to: "a")
        l.lower.write("secret", "lower")
        l.upper.symlink("link", to: "b")
        l.upper.symlink("escape", to: "/etc/shadow")
        l.upper.symlink("same", to: "x")
        l.lower.symlink("same", to: "x")
        let set = try l.read()
        let k = kinds(set)
        #expect(k["link"] == .modified)
        #expect(k["escape"] == .added)
        #expect(k["same"] == nil)
        #expect(set.changes.first { $0.path == "escape" }?.symlinkTarget == "/etc/shadow")
        #expect(set.changes.first { $0.path == "escape" }?.type == .symlink)
    }

    @Test func typeChanges() throws {
        let l = try Layers()
        l.lower.write("was-file", "f")
        l.lower.write("was-dir/inner", "i")
        l.upper.write("was-file/child", "c")
        l.upper.write("was-dir", "now a file")
        let set = try l.read()
        let order = set.changes.map { "\($0.kind.rawValue) \($0.path)" }
        #expect(order.contains("deleted was-file"))
        #expect(order.contains("dir_added was-file"))
        #expect(order.contains("added was-file/child"))
        #expect(order.contains("deleted was-dir/inner"))
        #expect(order.contains("dir_removed was-dir"))
        #expect(order.contains("added was-dir"))
        let removeFile = order.firstIndex(of: "deleted was-file") ?? 99
        let addDir = order.firstIndex(of: "dir_added was-file") ?? -1
        #expect(removeFile < addDir)
        let removeDir = order.firstIndex(of: "dir_removed was-dir") ?? 99
        let addFile = order.firstIndex(of: "added was-dir") ?? -1
        #expect(removeDir < addFile)
    }

    @Test func gateFlags() throws {
        let l = try Layers()
        l.upper.write("suid", "x", mode: 0o4755)
        l.upper.write("sgid", "x", mode: 0o2755)
        l.upper.mkdir("sticky", mode: 0o1777)
        l.upper.write("a", "x")
        _ = linkHard(l.upper.path("a"), l.upper.path("b"))
        _ = makeFifo(l.upper.path("fifo"))
        _ = makeCharDevice(l.upper.path("tty"), major: 5, minor: 0)
        let set = try l.read()
        func flags(_ p: String) -> Change.Flags? { set.changes.first { $0.path == p }?.flags }
        #expect(flags("suid")?.setuid == true)
        #expect(flags("suid")?.executableAdded == true)
        #expect(flags("sgid")?.setgid == true)
        #expect(flags("sticky")?.sticky == true)
        #expect(flags("a")?.hardLinked == true)
        #expect(flags("b")?.hardLinked == true)
        #expect(flags("fifo")?.special == true)
        #expect(flags("tty")?.special == true)
        #expect(set.changes.first { $0.path == "tty" }?.kind == .added)
    }

    @Test func unsupportedOverlayFeaturesAreRefused() throws {
        let l = try Layers()
        l.upper.mkdir("moved")
        l.upper.setXattr("moved", "trusted.overlay.redirect", "/orig")
        #expect(throws: (any Error).self) { try l.read() }
    }

    @Test func missingUpperIsAnError() {
        #expect(throws: (any Error).self) { try ChangeSet.read(upper: "/nonexistent/upper", lower: "/tmp") }
    }
}
