@testable import CordonAudit
import CordonCore
@testable import CordonOS
import CordonTestSupport
import Glibc
import Testing

/// The queue the proxy's event loops post to is bounded: while the writer cannot write (here:
/// someone else holds the log's lock), a flood of records is counted past the limit, not kept,
/// and a `dropped` record says how many once it can write again. What is held is at most the
/// queue and the one batch the writer took before it had to wait. The chain still verifies.
@Suite(.timeLimit(.minutes(1)))
struct AuditQueueTests {
    /// The log's last owner lets it go while its writer still drains: the deinit then runs on
    /// the writer's queue, where a `queue.sync` traps (seen as a crash at the end of a run).
    @Test func aLogLetGoWhileItsWriterDrainsWritesEverythingAndDoesNotTrap() throws {
        let tree = try TempTree()
        let layout = SandboxLayout(directory: tree.root)
        for round in 0..<50 {
            var log: AuditLog? = try AuditLog(layout: layout, sandbox: "box")
            for index in 0..<20 {
                log?.post(.network(time: "t", method: "dns", host: "h\(round)-\(index).test", port: 1, decision: "deny", rule: "r", reason: "x", client: "c"))
            }
            log = nil
        }
        // Every record landed: the last owner's deinit drained what was queued.
        var written = 0
        for _ in 0..<200 {
            written = (tree.read("audit.jsonl") ?? "").split(separator: "\n").count
            if written == 1000 { break }
            usleep(10_000)
        }
        #expect(written == 1000)
    }

    @Test func aFloodWhileTheWriterWaitsIsCountedNotKept() throws {
        let tree = try TempTree()
        let layout = SandboxLayout(directory: tree.root)
        let log = try AuditLog(layout: layout, sandbox: "box")
        let held = try FileLock.acquire(layout.auditLog)
        #expect(try FileLock.attempt(layout.auditLog) == nil)
        let extra = 100
        for index in 0..<(2 * AuditLog.queueLimit + extra) {
            log.post(.network(time: "t", method: "dns", host: "h\(index).test", port: 1, decision: "deny", rule: "r", reason: "flood", client: "c"))
        }
        #expect((try? FileIO.readFile(layout.auditLog))?.isEmpty == true)
        _ = held.take()  // closed: the lock is released
        log.flush()
        try log.writeHead()
        let lines = (tree.read("audit.jsonl") ?? "").split(separator: "\n")
        // At most a batch in the blocked writer and a full queue are kept; the rest is counted in
        // `dropped` records (where they fall depends on when the writer took its batch).
        let records = try lines.map { try JSONValue.parse(Array($0.utf8)) }
        let drops = records.filter { $0["kind"] == .string("dropped") }
        let dropped = drops.reduce(0) { total, record in
            guard case .int(let count)? = record["count"] else { return total }
            return total + count
        }
        #expect(!drops.isEmpty && drops.count <= 2, "\(drops)")
        #expect(records.count - drops.count <= 2 * AuditLog.queueLimit)
        #expect(dropped >= extra && records.count - drops.count + dropped == 2 * AuditLog.queueLimit + extra)
        #expect(try AuditVerifier.verify(layout: layout, sandbox: "box") == .success(.init(records: lines.count, headSeq: lines.count, afterHead: 0)))
    }
}
