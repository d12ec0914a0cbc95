import CordonAudit
import CordonCore
import CordonOS
import CordonTestSupport
import Testing

/// The queue the proxy's event loops post to is bounded: while the writer cannot write (here:
/// someone else holds the log's lock), a flood of records is counted past the limit, not kept,
/// and a `dropped` record says how many once it can write again. What is held is at most the
/// queue and the one batch the writer took before it had to wait. The chain still verifies.
@Suite(.timeLimit(.minutes(1)))
struct AuditQueueTests {
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
        #expect(lines.count <= 2 * AuditLog.queueLimit + 1)
        let last = try JSONValue.parse(Array(lines[lines.count - 1].utf8))
        #expect(last["kind"] == .string("dropped"))
        guard case .int(let dropped)? = last["count"] else {
            Issue.record("no count in \(last)")
            return
        }
        #expect(dropped >= extra && lines.count - 1 + dropped == 2 * AuditLog.queueLimit + extra)
        #expect(try AuditVerifier.verify(layout: layout, sandbox: "box") == .success(.init(records: lines.count, headSeq: lines.count, afterHead: 0)))
    }
}
