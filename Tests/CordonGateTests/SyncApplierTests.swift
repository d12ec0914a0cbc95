import CordonTestSupport
import CordonCore
import CordonFS
import CordonOS
import CordonGate
import Glibc
import Testing

@Suite(.timeLimit(.minutes(2))) struct SyncApplierTests {
    struct Crash: Error {}

    /// A workspace with every kind of change: add, modify, delete, rename, dir removal, opaque dir,
    /// symlink, mode change, file-to-directory.
    final class Fixture {
        let lower: TempTree
        let upper: TempTree
        let state: TempTree
        init() throws {
            lower = try TempTree()
            upper = try TempTree()
            state = try TempTree()
            lower.write("keep.txt", "same")
            lower.write("edit.txt", "before")
            lower.write("gone.txt", "bye")
            lower.write("old-name.txt", "moved")
            lower.write("dir/a.txt", "a")
            lower.write("dir/sub/b.txt", "b")
            lower.write("opaque/x.txt", "x-old")
            lower.write("opaque/y.txt", "y")
            lower.write("script.sh", "echo", mode: 0o644)
            lower.write("becomes-dir", "file")
            upper.write("edit.txt", "after")
            upper.whiteout("gone.txt")
            upper.whiteout("old-name.txt")
            upper.write("new-name.txt", "moved")
            upper.whiteout("dir")
            upper.opaque("opaque")
            upper.write("opaque/x.txt", "x-new")
            upper.write("new/deep/file.txt", "deep")
            upper.symlink("link", to: "keep.txt")
            upper.write("script.sh", "echo", mode: 0o755)
            upper.write("becomes-dir/inner.txt", "inner")
        }

        var journal: String { state.path("sync-journal.json") }
        /// `moves`: files renamed from the upper (`cordon sync` of a stopped sandbox) rather than copied.
        func applier(moves: Bool = false) -> SyncApplier {
            var applier = SyncApplier(workspace: lower.root, upper: upper.root, journalPath: journal)
            applier.moveFiles = moves
            return applier
        }
        func changes() throws -> [Change] { try ChangeSet.read(upper: upper.root, lower: lower.root).changes }

        /// Each path's state on the host: content, "<dir>", "-> target", or nil when absent.
        func snapshot() -> [String: String] {
            var result: [String: String] = [:]
            for p in [
                "keep.txt", "edit.txt", "gone.txt", "old-name.txt", "new-name.txt", "dir", "dir/a.txt", "dir/sub/b.txt", "opaque/x.txt", "opaque/y.txt",
                "new/deep/file.txt", "link", "script.sh", "becomes-dir", "becomes-dir/inner.txt",
            ] {
                var st = stat()
                guard lstat(lower.path(p), &st) == 0 else { continue }
                switch st.st_mode & S_IFMT {
                case S_IFDIR: result[p] = "<dir>"
                case S_IFLNK: result[p] = "-> link"
                default: result[p] = (lower.read(p) ?? "") + (p == "script.sh" ? " \(String(st.st_mode & 0o777, radix: 8))" : "")
                }
            }
            return result
        }
    }

    static let before: [String: String] = [
        "keep.txt": "same", "edit.txt": "before", "gone.txt": "bye", "old-name.txt": "moved", "dir": "<dir>", "dir/a.txt": "a",
        "dir/sub/b.txt": "b", "opaque/x.txt": "x-old", "opaque/y.txt": "y", "script.sh": "echo 644", "becomes-dir": "file",
    ]
    static let after: [String: String] = [
        "keep.txt": "same", "edit.txt": "after", "new-name.txt": "moved", "opaque/x.txt": "x-new", "new/deep/file.txt": "deep", "link": "-> link",
        "script.sh": "echo 755", "becomes-dir": "<dir>", "becomes-dir/inner.txt": "inner",
    ]

    @Test(arguments: [false, true]) func appliesEveryKindOfChangeAndEmptiesTheUpper(moves: Bool) throws {
        let f = try Fixture()
        #expect(f.snapshot() == Self.before)
        let outcome = try f.applier(moves: moves).apply(try f.changes())
        #expect(f.snapshot() == Self.after)
        #expect(outcome.kept.isEmpty)
        let left = try f.changes().map(\.path)
        #expect(left.isEmpty, "upper still shows changes: \(left)")
        #expect(!f.state.exists("sync-journal.json"))
        // No temporaries left behind.
        #expect(try DirectoryListing.sortedNames(f.lower.root).allSatisfy { !$0.hasPrefix(".cordon-sync") })
    }

    @Test(arguments: [false, true]) func crashAtEveryStepLeavesEachFileBeforeOrAfterAndRecoveryFinishes(moves: Bool) async throws {
        // CPU- and disk-heavy: on a thread of its own, not one of the few pool threads.
        try await onOwnThread {
            var steps = 0
            do {
                let f = try Fixture()
                var applier = f.applier(moves: moves)
                nonisolated(unsafe) var count = 0
                applier.checkpoint = { _ throws(CordonError) in count += 1 }
                _ = try applier.apply(try f.changes())
                steps = count
            }
            #expect(steps > 20)
            for crashAt in 1...steps {
                let f = try Fixture()
                var applier = f.applier(moves: moves)
                nonisolated(unsafe) var count = 0
                nonisolated(unsafe) var stepName = ""
                applier.checkpoint = { name throws(CordonError) in
                    count += 1
                    if count == crashAt {
                        stepName = name
                        throw CordonError(.internal, "simulated crash")
                    }
                }
                #expect(throws: CordonError.self) { try applier.apply(try f.changes()) }
                let mid = f.snapshot()
                for (path, value) in mid {
                    #expect(Self.before[path] == value || Self.after[path] == value, "crash at \(crashAt) (\(stepName)): \(path) = \(value)")
                }
                // The next sync completes or rolls back, then the change set reads consistently.
                let recovered = try f.applier(moves: moves).recover()
                #expect(recovered != nil)
                let snap = f.snapshot()
                #expect(snap == Self.before || snap == Self.after, "after recovery from \(stepName): \(snap)")
                if snap == Self.before {
                    _ = try f.applier(moves: moves).apply(try f.changes())
                    #expect(f.snapshot() == Self.after)
                }
                let leftover = try f.changes().map(\.path)
                #expect(leftover.isEmpty, "crash at \(stepName): leftover \(leftover)")
                #expect(try DirectoryListing.sortedNames(f.lower.root).allSatisfy { !$0.hasPrefix(".cordon-sync") })
            }
        }
    }

    /// Moving is an optimisation only: the file that lands must be indistinguishable from one
    /// cordon wrote (owner, permission bits, no extended attributes or inode flags the agent set),
    /// and a file that cannot be made so (an inode flag, a second hard link) is copied, never moved.
    @Test func aMovedFileCarriesNothingTheAgentAttachedToIt() async throws {
        let lower = try TempTree()
        let upper = try TempTree()
        let state = try TempTree()
        lower.write("plain.txt", "old")
        upper.write("plain.txt", "new", mode: 0o4775)
        upper.setXattr("plain.txt", "user.agent-note", "planted")
        upper.setXattr("plain.txt", "trusted.overlay.origin", "x")
        // noatime: an inode flag any owner may set (chattr +A).
        upper.write("flagged.txt", "flag")
        #expect(await Self.shell("chattr +A '\(upper.path("flagged.txt"))'").status == 0)
        #expect(await Self.shell("lsattr '\(upper.path("flagged.txt"))'").output.prefix(20).contains("A"))
        var flaggedBefore = stat()
        lstat(upper.path("flagged.txt"), &flaggedBefore)
        upper.write("linked.txt", "shared")
        #expect(makeHardLink(upper.path("linked.txt"), state.path("other-link")) == 0)
        var plainBefore = stat()
        lstat(upper.path("plain.txt"), &plainBefore)
        var linkedBefore = stat()
        lstat(upper.path("linked.txt"), &linkedBefore)

        var applier = SyncApplier(workspace: lower.root, upper: upper.root, journalPath: state.path("journal.json"))
        applier.moveFiles = true
        _ = try applier.apply(try ChangeSet.read(upper: upper.root, lower: lower.root).changes)

        var plain = stat()
        #expect(lstat(lower.path("plain.txt"), &plain) == 0)
        #expect(lower.read("plain.txt") == "new")
        #expect(plain.st_ino == plainBefore.st_ino, "the upper's file was renamed into place, not copied")
        #expect(plain.st_mode & 0o7777 == 0o775, "permission bits only: \(String(plain.st_mode & 0o7777, radix: 8))")
        #expect(plain.st_uid == geteuid())
        #expect(ExtendedAttributes.names(lower.path("plain.txt")).isEmpty, "\(ExtendedAttributes.names(lower.path("plain.txt")))")
        #expect(!upper.exists("plain.txt"))

        var flagged = stat()
        #expect(lstat(lower.path("flagged.txt"), &flagged) == 0)
        #expect(lower.read("flagged.txt") == "flag")
        #expect(flagged.st_ino != flaggedBefore.st_ino, "a file with an inode flag is copied, not moved")
        #expect(await !Self.shell("lsattr '\(lower.path("flagged.txt"))'").output.prefix(20).contains("A"), "no inode flag reaches the host")

        var linked = stat()
        #expect(lstat(lower.path("linked.txt"), &linked) == 0)
        #expect(lower.read("linked.txt") == "shared")
        #expect(linked.st_ino != linkedBefore.st_ino, "a file with a second link is copied, not moved")
        #expect(!upper.exists("linked.txt"))
    }

    static func shell(_ command: String) async -> (status: Int32, output: String) {
        guard let result = try? await ProcessRunner.run(["/bin/sh", "-c", command + " 2>&1"], timeout: .seconds(60)) else { return (-1, "") }
        return (result.status, result.stdout)
    }

    @Test func hostSymlinkSwapCannotRedirectAWrite() throws {
        let lower = try TempTree()
        let upper = try TempTree()
        let outside = try TempTree()
        let state = try TempTree()
        lower.write("sub/file.txt", "old")
        upper.write("sub/file.txt", "new")
        upper.write("sub/added.txt", "added")
        let changes = try ChangeSet.read(upper: upper.root, lower: lower.root).changes
        // After the gate looked, the host directory is swapped for a symlink to somewhere else.
        _ = rename(lower.path("sub"), lower.path("sub-moved"))
        lower.symlink("sub", to: outside.root)
        let applier = SyncApplier(workspace: lower.root, upper: upper.root, journalPath: state.path("journal.json"))
        #expect(throws: CordonError.self) { try applier.apply(changes) }
        #expect(try DirectoryListing.sortedNames(outside.root).isEmpty)
        _ = try applier.recover()
        #expect(try DirectoryListing.sortedNames(outside.root).isEmpty)
        #expect(lower.read("sub-moved/file.txt") == "old")
    }

    @Test(arguments: ["chardev", "user"])
    func appliedDeletionsTakeTheirWhiteoutsOutOfTheUpper(form: String) throws {
        let lower = try TempTree()
        let upper = try TempTree()
        let state = try TempTree()
        lower.write("gone.txt", "bye")
        lower.write("dir/a.txt", "a")
        lower.write("dir/sub/b.txt", "b")
        upper.write("dir2/new.txt", "new")
        switch form {
        case "chardev":
            upper.whiteout("gone.txt")
            upper.whiteout("dir")
        default:
            upper.xattrWhiteout("gone.txt", namespace: form)
            upper.xattrWhiteout("dir", namespace: form)
        }
        let changes = try ChangeSet.read(upper: upper.root, lower: lower.root).changes
        _ = try SyncApplier(workspace: lower.root, upper: upper.root, journalPath: state.path("journal.json")).apply(changes)
        #expect(try DirectoryListing.sortedNames(lower.root) == ["dir2"])
        #expect(try DirectoryListing.sortedNames(upper.root).isEmpty)
    }

    /// Enough files for the threaded paths: `modified` host files `dI/fN.txt` changed in the upper
    /// and `added` new files `<addedDir>I/addedN.txt`.
    final class ManyFiles {
        let lower: TempTree
        let upper: TempTree
        let state: TempTree
        let dirs: Int
        init(modified: Int, dirs: Int, added: Int, addedDir: String, addedDirs: Int) throws {
            lower = try TempTree()
            upper = try TempTree()
            state = try TempTree()
            self.dirs = dirs
            for i in 0..<modified {
                lower.write("d\(i % dirs)/f\(i).txt", "old \(i)")
                upper.write("d\(i % dirs)/f\(i).txt", "new \(i)!")
            }
            for i in 0..<added { upper.write("\(addedDir)\(i % addedDirs)/added\(i).txt", "added \(i)") }
        }
        var journal: String { state.path("journal.json") }
        func applier() -> SyncApplier { SyncApplier(workspace: lower.root, upper: upper.root, journalPath: journal) }
        func changes() throws -> [Change] { try ChangeSet.read(upper: upper.root, lower: lower.root).changes }
    }

    /// Staging runs on several threads: one failure among many leaves the others' temporaries, and
    /// the next sync must still roll back to the untouched host.
    @Test func aStagingFailureAmongManyFilesRollsBack() throws {
        let f = try ManyFiles(modified: 40, dirs: 4, added: 200, addedDir: "n", addedDirs: 8)
        let changes = try f.changes()
        // Unreadable as a file once the gate has looked: read(2) fails with EISDIR.
        _ = unlink(f.upper.path("n3/added131.txt"))
        f.upper.mkdir("n3/added131.txt")
        #expect(throws: CordonError.self) { try f.applier().apply(changes) }
        #expect(try f.applier().recover() != nil)
        #expect(try DirectoryListing.sortedNames(f.lower.root) == ["d0", "d1", "d2", "d3"])
        for i in 0..<40 {
            #expect(f.lower.read("d\(i % 4)/f\(i).txt") == "old \(i)")
            #expect(try DirectoryListing.sortedNames(f.lower.path("d\(i % 4)")).count == 10)
        }
        #expect(f.upper.read("n0/added0.txt") == "added 0")
    }

    /// Renames run on several threads: a crash can leave any subset of a batch renamed.
    @Test func aCommitInterruptedPartWayThroughABatchRollsForward() async throws {
        // CPU- and disk-heavy: on a thread of its own, not one of the few pool threads.
        try await onOwnThread {
            let f = try ManyFiles(modified: 300, dirs: 3, added: 300, addedDir: "d", addedDirs: 3)
            let changes = try f.changes()
            var applier = f.applier()
            applier.checkpoint = { name throws(CordonError) in
                if name == "committing" { throw CordonError(.internal, "simulated crash") }
            }
            #expect(throws: CordonError.self) { try applier.apply(changes) }
            // Every third temp renamed before the crash, in no particular order.
            var renamed = 0
            for dir in ["d0", "d1", "d2"] {
                for (n, name) in try DirectoryListing.sortedNames(f.lower.path(dir)).filter({ $0.hasPrefix(".cordon-sync.") }).enumerated() where n % 3 == 0 {
                    let index = Int(name.split(separator: ".").last ?? "") ?? -1
                    #expect(Glibc.rename(f.lower.path(dir + "/" + name), f.lower.path(changes[index].path)) == 0)
                    renamed += 1
                }
            }
            #expect(renamed > 150)
            #expect(try f.applier().recover() != nil)
            for i in 0..<300 {
                #expect(f.lower.read("d\(i % 3)/f\(i).txt") == "new \(i)!")
                #expect(f.lower.read("d\(i % 3)/added\(i).txt") == "added \(i)")
            }
            for dir in ["d0", "d1", "d2"] {
                #expect(try DirectoryListing.sortedNames(f.lower.path(dir)).count == 200)
                #expect(try DirectoryListing.sortedNames(f.upper.path(dir)).isEmpty)
            }
            #expect(try f.changes().isEmpty)
        }
    }

    @Test func partialApplyKeepsHeldEntriesInTheUpper() throws {
        let f = try Fixture()
        let all = try f.changes()
        let chosen = all.filter { $0.path != "edit.txt" }
        _ = try f.applier().apply(chosen, allChanges: all)
        #expect(f.lower.read("edit.txt") == "before")
        #expect(try f.changes().map(\.path) == ["edit.txt"])
    }
}
