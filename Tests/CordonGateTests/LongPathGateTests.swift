import CordonFS
import CordonGate
import CordonOS
import CordonScan
import CordonTestSupport
import Glibc
import Testing

/// The agent can nest names deeper than a system call reaches by path (PATH_MAX). Such a change is
/// blocked as a finding, not a failure of the whole sync: the rest of the change set is still
/// checked, and a running sandbox's snapshot is still taken (found by fuzz/ `changeset`).
@Suite struct LongPathGateTests {
    /// Twenty-two directories of 200-byte names under `root`, reached by descriptor, and a file in the
    /// last; returns the file's relative path (over 4,400 bytes).
    func deepFile(under root: String) throws -> String {
        var fd = open(root, O_RDONLY | O_DIRECTORY)
        try #require(fd >= 0)
        var rel = ""
        for level in 0..<22 {
            let name = String(repeating: Character(UnicodeScalar(UInt8(0x61 + level))), count: 200)
            try #require(mkdirat(fd, name, 0o755) == 0)
            let next = openat(fd, name, O_RDONLY | O_DIRECTORY)
            close(fd)
            try #require(next >= 0)
            fd = next
            rel += name + "/"
        }
        defer { close(fd) }
        let file = openat(fd, "deep.txt", O_WRONLY | O_CREAT | O_EXCL, 0o644)
        try #require(file >= 0)
        _ = write(file, "deep\n", 5)
        close(file)
        return rel + "deep.txt"
    }

    func gate() throws -> SyncGate {
        try SyncGate(policy: GatePolicy(), scanner: try SecretScanner(RuleSet(rules: []), useHyperscan: false))
    }

    @Test(arguments: [false, true])
    func aPathTooLongForTheHostIsBlockedAndTheRestChecked(snapshot: Bool) throws {
        let lower = try TempTree()
        let upper = try TempTree()
        let state = try TempTree()
        let deep = try deepFile(under: upper.root)
        upper.write("ok.txt", "fine\n")
        let set = try ChangeSet.read(
            upper: upper.root, lower: lower.root, snapshot: snapshot ? state.path("snapshot") : nil, limits: GatePolicy().snapshotLimits)
        #expect(set.changes.contains { $0.path == deep && $0.size == 5 })
        let report = try gate().evaluate(set, created: nil)
        #expect(report.findings.contains { $0.ruleID == "fs-path-too-long" && $0.path == deep })
        #expect(report.severity(of: deep) == .block)
        #expect(report.severity(of: "ok.txt") == nil)
        if snapshot { #expect(state.read("snapshot/ok.txt") == "fine\n") }
        // TempTree removes by path, which cannot reach so deep; this descends by descriptor.
        try AnchoredDirectory.removeTree(upper.root + "/" + String(repeating: "a", count: 200))
    }
}
