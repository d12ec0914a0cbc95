import CordonFS
import CordonGate
import CordonScan
import CordonTestSupport
import Glibc
import Testing

/// The gate reads a running sandbox's files from the snapshot, which holds no file past the
/// total limit (`SnapshotLimits`): it blocks the set by size without reading them.
@Suite struct SnapshotLimitGateTests {
    @Test func aSnapshotOverTheTotalIsBlockedNotAReadError() throws {
        let lower = try TempTree()
        let upper = try TempTree()
        let state = try TempTree()
        for name in ["a", "b", "c"] { upper.write(name, String(repeating: "z", count: 600)) }
        let policy = GatePolicy(maxFileSize: 1000, maxTotalSize: 1000)
        let target = SyncTarget(
            mount: nil, host: lower.root, upper: upper.root, journal: state.path("journal"), hostWrites: state.path("writes"),
            snapshot: state.path("snapshot"))
        let set = try target.changeSet(snapshot: target.snapshot, limits: policy.snapshotLimits)
        let scanner = try SecretScanner(RuleSet(rules: []), useHyperscan: false)
        let report = try SyncGate(policy: policy, scanner: scanner).evaluate(set, created: nil)
        #expect(report.findings.map(\.ruleID) == ["size-total"])
        #expect(report.severity(of: "c") == .block)
    }

    @Test func aSnapshotCopiesNoMoreOfAFileThanTheGateReads() throws {
        let lower = try TempTree()
        let upper = try TempTree()
        let state = try TempTree()
        let fd = open(upper.path("huge.bin"), O_WRONLY | O_CREAT | O_EXCL, 0o644)
        try #require(fd >= 0)
        try #require(ftruncate(fd, 16 << 20) == 0)
        close(fd)
        let policy = GatePolicy(maxFileSize: 4096)
        let target = SyncTarget(
            mount: nil, host: lower.root, upper: upper.root, journal: state.path("journal"), hostWrites: state.path("writes"),
            snapshot: state.path("snapshot"))
        let set = try target.changeSet(snapshot: target.snapshot, limits: policy.snapshotLimits)
        var st = stat()
        #expect(lstat(state.path("snapshot/huge.bin"), &st) == 0 && st.st_size == 4097)
        let scanner = try SecretScanner(RuleSet(rules: []), useHyperscan: false)
        let report = try SyncGate(policy: policy, scanner: scanner).evaluate(set, created: nil)
        #expect(report.findings.map(\.ruleID) == ["size-file"])
    }
}
