import CordonFS
import CordonOS
import CordonTestSupport
import Glibc
import Testing

/// A running sandbox's files are copied into cordon's state as the change set is read. A sparse
/// file costs the agent no disk, so the copy, not the agent, would fill the host's disk: no copy
/// goes past the gate's size limits (found by fuzz/ `changeset`).
@Suite struct SnapshotLimitsTests {
    /// A sparse file of `size` bytes at `rel` under `tree`, with nothing written.
    func sparse(_ tree: TempTree, _ rel: String, size: Int) throws {
        let fd = open(tree.path(rel), O_WRONLY | O_CREAT | O_EXCL, 0o644)
        try #require(fd >= 0)
        defer { close(fd) }
        try #require(ftruncate(fd, off_t(size)) == 0)
    }

    func size(_ path: String) -> Int? {
        var st = stat()
        return lstat(path, &st) == 0 ? Int(st.st_size) : nil
    }

    @Test func aSparseFileOverTheFileLimitIsCopiedOnlyToOnePastIt() throws {
        let lower = try TempTree()
        let upper = try TempTree()
        let state = try TempTree()
        try sparse(upper, "huge.bin", size: 64 << 20)
        upper.write("small.txt", "hi\n")
        let snapshot = state.path("snapshot")
        let set = try ChangeSet.read(upper: upper.root, lower: lower.root, snapshot: snapshot, limits: SnapshotLimits(file: 1 << 20, total: 1 << 30))
        #expect(size(snapshot + "/huge.bin") == (1 << 20) + 1)
        // Reported over the limit, so the gate blocks it by size and never reads it.
        let huge = try #require(set.changes.first { $0.path == "huge.bin" })
        #expect(huge.size > 1 << 20)
        #expect(state.read("snapshot/small.txt") == "hi\n")
        #expect(set.changes.first { $0.path == "small.txt" }?.size == 3)
    }

    @Test func pastTheTotalLimitNoLaterFileIsCopied() throws {
        let lower = try TempTree()
        let upper = try TempTree()
        let state = try TempTree()
        for name in ["a", "b", "c", "d"] { try sparse(upper, name, size: 600) }
        let snapshot = state.path("snapshot")
        let set = try ChangeSet.read(upper: upper.root, lower: lower.root, snapshot: snapshot, limits: SnapshotLimits(file: 1000, total: 1000))
        // a and b are copied (the total before each is within the limit); c and d are not.
        #expect(size(snapshot + "/a") == 600 && size(snapshot + "/b") == 600)
        #expect(size(snapshot + "/c") == nil && size(snapshot + "/d") == nil)
        #expect(set.changes.map(\.path) == ["a", "b", "c", "d"] && set.changes.allSatisfy { $0.size == 600 })
    }

    @Test func withoutLimitsEveryFileIsCopiedWhole() throws {
        let lower = try TempTree()
        let upper = try TempTree()
        let state = try TempTree()
        try sparse(upper, "a", size: 70_000)
        let snapshot = state.path("snapshot")
        _ = try ChangeSet.read(upper: upper.root, lower: lower.root, snapshot: snapshot)
        #expect(size(snapshot + "/a") == 70_000)
    }
}
