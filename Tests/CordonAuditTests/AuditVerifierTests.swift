@testable import CordonAudit
import CordonCore
import CordonTestSupport
import Foundation
import Glibc
import Testing

/// A log written through `AuditLog` verifies; each way of tampering with it is caught and the
/// first bad record named: an edited field, a deleted or swapped line, a cut tail (the head
/// catches it), a chain rewritten consistently (the head catches it), a deleted head.
struct AuditVerifierTests {
    /// A sandbox state directory with a log of `count` records and its head.
    static func written(count: Int = 6) throws -> TempTree {
        let tree = try TempTree()
        let layout = Self.layout(tree)
        let log = try AuditLog(layout: layout, sandbox: "box")
        try log.append(.start(profile: "default", mode: "secure", workspace: "/w", network: "proxy", diskLimitBytes: 0, via: "run"))
        for index in 1..<count - 1 {
            try log.append(
                .network(
                    time: WallClock.rfc3339(), method: "CONNECT", host: "h\(index).test", port: 443, decision: "deny", rule: "r", reason: "no", client: "c"))
        }
        try log.append(.exit(status: 0, durationMS: 5, oomKills: 0, diskLimit: nil))
        try log.writeHead()
        return tree
    }

    /// The state directory's layout, read through `tree` so the tree lives while it is used.
    static func layout(_ tree: TempTree) -> SandboxLayout { SandboxLayout(directory: tree.root) }

    static func lines(_ tree: TempTree) -> [String] {
        (tree.read("audit.jsonl") ?? "").split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
    }

    static func rewrite(_ tree: TempTree, _ lines: [String]) {
        tree.write("audit.jsonl", lines.map { $0 + "\n" }.joined(), mode: 0o600)
    }

    static func failure(_ layout: SandboxLayout) throws -> AuditVerifier.Failure? {
        if case .failure(let failure) = try AuditVerifier.verify(layout: layout, sandbox: "box") { return failure }
        return nil
    }

    @Test func aLogAsWrittenVerifies() throws {
        let tree = try Self.written()
        let result = try AuditVerifier.verify(layout: Self.layout(tree), sandbox: "box")
        #expect(result == .success(.init(records: 6, headSeq: 6, afterHead: 0)))
    }

    @Test func anEditedFieldNamesTheEditedLine() throws {
        let tree = try Self.written()
        var lines = Self.lines(tree)
        lines[2] = lines[2].replacingOccurrences(of: "\"deny\"", with: "\"allow\"")
        Self.rewrite(tree, lines)
        let failure = try #require(try Self.failure(Self.layout(tree)))
        #expect(failure.line == 4)
        #expect(failure.description.contains("line 3 or this record's prev was edited"))
    }

    @Test func anEditOfTheLastRecordIsCaughtByTheHead() throws {
        let tree = try Self.written()
        var lines = Self.lines(tree)
        lines[5] = lines[5].replacingOccurrences(of: "\"status\":0", with: "\"status\":1")
        Self.rewrite(tree, lines)
        let failure = try #require(try Self.failure(Self.layout(tree)))
        #expect(failure.line == 6)
        #expect(failure.reason.contains("does not match audit.head"))
    }

    @Test func aDeletedMiddleLineIsNamed() throws {
        let tree = try Self.written()
        var lines = Self.lines(tree)
        lines.remove(at: 2)
        Self.rewrite(tree, lines)
        let failure = try #require(try Self.failure(Self.layout(tree)))
        #expect(failure.line == 3 && failure.seq == 4)
        #expect(failure.reason.contains("seq 4 where 3 was expected: records before it were removed"))
    }

    @Test func swappedLinesAreNamed() throws {
        let tree = try Self.written()
        var lines = Self.lines(tree)
        lines.swapAt(2, 3)
        Self.rewrite(tree, lines)
        let failure = try #require(try Self.failure(Self.layout(tree)))
        #expect(failure.line == 3 && failure.seq == 4)
    }

    @Test func aTruncatedTailIsCaughtByTheHead() throws {
        let tree = try Self.written()
        Self.rewrite(tree, Array(Self.lines(tree).prefix(4)))
        let failure = try #require(try Self.failure(Self.layout(tree)))
        #expect(failure.reason.contains("audit.head names seq 6 but the log ends at seq 4"))
    }

    @Test func aLineCutShortIsNamed() throws {
        let tree = try Self.written()
        let lines = Self.lines(tree)
        tree.write("audit.jsonl", lines.prefix(5).map { $0 + "\n" }.joined() + String(lines[5].prefix(20)), mode: 0o600)
        let failure = try #require(try Self.failure(Self.layout(tree)))
        #expect(failure.line == 6 && failure.reason.contains("cut short"))
    }

    /// The whole chain rewritten with every hash recomputed (a record dropped, the rest renumbered):
    /// the links hold, the head does not.
    @Test func aConsistentlyRewrittenChainIsCaughtByTheHead() throws {
        let tree = try Self.written()
        let head = tree.read("audit.head")
        unlink(Self.layout(tree).auditLog)
        let forger = try AuditLog(layout: Self.layout(tree), sandbox: "box")
        try forger.append(.start(profile: "default", mode: "secure", workspace: "/w", network: "proxy", diskLimitBytes: 0, via: "run"))
        for index in 1..<5 {
            try forger.append(
                .network(
                    time: WallClock.rfc3339(), method: "CONNECT", host: "h\(index).test", port: 443, decision: "allow", rule: "r", reason: "ok", client: "c"))
        }
        try forger.append(.exit(status: 0, durationMS: 5, oomKills: 0, diskLimit: nil))
        tree.write("audit.head", head ?? "", mode: 0o600)
        let failure = try #require(try Self.failure(Self.layout(tree)))
        #expect(failure.line == 6 && failure.reason.contains("the log was rewritten"))
        // Shorter than the head: its seq is past the end.
        Self.rewrite(tree, Array(Self.lines(tree).prefix(5)))
        #expect(try Self.failure(Self.layout(tree))?.reason.contains("records were removed from its end") == true)
    }

    @Test func aMissingHeadFails() throws {
        let tree = try Self.written()
        unlink(tree.path("audit.head"))
        let failure = try #require(try Self.failure(Self.layout(tree)))
        #expect(failure.reason.contains("audit.head is missing"))
    }

    @Test func anotherSandboxesLogFails() throws {
        let tree = try Self.written()
        guard case .failure(let failure) = try AuditVerifier.verify(layout: Self.layout(tree), sandbox: "other") else {
            Issue.record("another sandbox's log verified")
            return
        }
        #expect(failure.reason.contains("belongs to sandbox box"))
    }

    /// Records appended after the head (a running sandbox, a crashed supervisor) still chain; they
    /// are counted as not covered by the head.
    @Test func recordsAfterTheHeadAreCounted() throws {
        let tree = try Self.written()
        try AuditLog(layout: Self.layout(tree), sandbox: "box").append(.approval(host: "x.test", port: 443, answer: "deny"))
        #expect(try AuditVerifier.verify(layout: Self.layout(tree), sandbox: "box") == .success(.init(records: 7, headSeq: 6, afterHead: 1)))
    }

    /// Two writers (as the supervisor and `cordon sync` are) appending in turn form one chain:
    /// each reads the other's last record before it writes.
    @Test func twoWritersFormOneChain() throws {
        let tree = try TempTree()

        let a = try AuditLog(layout: Self.layout(tree), sandbox: "box")
        let b = try AuditLog(layout: Self.layout(tree), sandbox: "box")
        for index in 0..<10 {
            try (index % 3 == 0 ? a : b).append(.sync(via: "sync", applied: ["f\(index)"], held: []))
        }
        for index in 0..<200 { (index % 2 == 0 ? a : b).post(.approval(host: "h\(index)", port: nil, answer: "allow")) }
        a.flush()
        b.flush()
        try a.writeHead()
        #expect(try AuditVerifier.verify(layout: Self.layout(tree), sandbox: "box") == .success(.init(records: 210, headSeq: 210, afterHead: 0)))
    }

    /// A writer that finds a last line cut short (a crash mid-write) starts on a new line; the
    /// verifier names the broken one.
    @Test func aWriterAfterACutLineStartsANewLine() throws {
        let tree = try Self.written()
        let lines = Self.lines(tree)
        tree.write("audit.jsonl", lines.prefix(5).map { $0 + "\n" }.joined() + String(lines[5].prefix(20)), mode: 0o600)
        try AuditLog(layout: Self.layout(tree), sandbox: "box").append(.approval(host: "x.test", port: 443, answer: "deny"))
        #expect(Self.lines(tree).count == 7)
        let failure = try #require(try Self.failure(Self.layout(tree)))
        #expect(failure.line == 6 && failure.reason.contains("not a JSON object"))
    }

    /// Agent-chosen bytes (not UTF-8, controls, quotes) are stored escaped and chain like any text.
    @Test func hostileNamesAreStoredEscaped() throws {
        let tree = try TempTree()

        let log = try AuditLog(layout: Self.layout(tree), sandbox: "box")
        try log.append(.fileWrite(layer: "workspace", path: [0x61, 0xFF, 0x0A, 0x22, 0x5C, 0x1B], events: ["create"], count: 1, time: WallClock.rfc3339()))
        try log.writeHead()
        let line = Self.lines(tree)[0]
        #expect(line.contains(#""path":"a\\xFF\n\"\\x5C\u001b""#))
        #expect(try AuditVerifier.verify(layout: Self.layout(tree), sandbox: "box") == .success(.init(records: 1, headSeq: 1, afterHead: 0)))
    }
}
