public import CordonCore
import CordonOS

/// Checks a sandbox's audit log against its chain and its head file:
/// - every line is a JSON object with `seq`, `time`, `kind` and `prev`, ended by a newline;
/// - `seq` counts 1, 2, 3… (a record removed, reordered or inserted breaks it);
/// - each `prev` is the hash of the line before it (the first: the sandbox's genesis hash), so a
///   record edited in place breaks the link to the next one;
/// - `audit.head` exists and names a record of the chain, by seq and hash. The head may name an
///   earlier record than the last: a running sandbox appends between heads (the head is written
///   at every stop, sync and down), and a supervisor that crashed wrote none for its last
///   records. Those later records are chained but not covered by the head: cutting them off is
///   not detected; the report counts them. A log cut back before the head, or a chain rewritten
///   consistently (its record at the head's seq hashes differently), fails.
///
/// The first bad record is named by line and seq, with what is wrong.
public enum AuditVerifier {
    public struct Report: Sendable, Equatable {
        public var records: Int
        public var headSeq: Int
        /// Records written after the head (chained, not covered by it).
        public var afterHead: Int
    }

    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        /// 1-based line of the first bad record (0: the head file itself).
        public var line: Int
        public var seq: Int?
        public var reason: String

        public var description: String {
            line == 0 ? reason : "line \(line)\(seq.map { " (seq \($0))" } ?? ""): \(reason)"
        }
    }

    /// Verifies the log and head of `layout`, for the sandbox named `sandbox`.
    public static func verify(layout: SandboxLayout, sandbox: String) throws(CordonError) -> Result<Report, Failure> {
        guard FileIO.kind(layout.auditLog, followSymlinks: false) == .file else {
            throw CordonError(.notFound, "\(sandbox) has no audit log (\(layout.auditLog))", hint: "the log starts with the sandbox's next run")
        }
        var lines = try AuditLines(path: layout.auditLog)
        let headBytes = try? FileIO.readFile(layout.auditHead, limit: 64 * 1024)
        return try verify(next: { () throws(CordonError) in try lines.next(partial: true) }, head: headBytes, sandbox: sandbox)
    }

    /// The checks over lines from `next` and the head file's bytes (nil: missing).
    public static func verify(
        next: () throws(CordonError) -> AuditLines.Line?, head headBytes: [UInt8]?, sandbox: String
    ) throws(CordonError) -> Result<Report, Failure> {
        guard let headBytes else {
            return .failure(
                Failure(
                    line: 0, seq: nil,
                    reason:
                        "audit.head is missing: without it a log cut short or rewritten cannot be told from the real one (it is written at every stop and sync)"
                ))
        }
        guard let head = AuditHead(bytes: headBytes) else {
            return .failure(
                Failure(line: 0, seq: nil, reason: "audit.head is not a head cordon wrote (expected {\"version\":1,\"sandbox\",\"seq\",\"hash\",\"time\"})"))
        }
        guard head.sandbox == sandbox else {
            return .failure(Failure(line: 0, seq: nil, reason: "audit.head belongs to sandbox \(TerminalText.escaped(head.sandbox)), not \(sandbox)"))
        }
        var previousHash = AuditChain.genesis(sandbox: sandbox)
        var number = 0
        var headMatched = head.seq == 0 && head.hash == previousHash
        while let line = try next() {
            number += 1
            let value = try? JSONValue.parse(line.bytes)
            let recordSeq: Int? = if case .int(let n)? = value?["seq"] { n } else { nil }
            func fail(_ reason: String) -> Result<Report, Failure> { .failure(Failure(line: number, seq: recordSeq, reason: reason)) }
            guard line.terminated else { return fail("the line is cut short (no newline): a write was interrupted or the log was truncated") }
            guard let value, case .object = value else { return fail("not a JSON object") }
            guard let seq = recordSeq else { return fail("no integer \"seq\"") }
            guard case .string? = value["time"], case .string? = value["kind"] else { return fail("no \"time\" or \"kind\"") }
            guard case .string(let prev)? = value["prev"] else { return fail("no \"prev\"") }
            guard seq == number else {
                let how = seq > number ? "records before it were removed" : "records were reordered or repeated"
                return fail("seq \(seq) where \(number) was expected: \(how)")
            }
            guard prev == previousHash else {
                let reason =
                    number == 1
                    ? "its prev is not the genesis hash of sandbox \(sandbox): the log was replaced or belongs to another sandbox"
                    : "its prev does not match the hash of line \(number - 1): line \(number - 1) or this record's prev was edited"
                return fail(reason)
            }
            previousHash = AuditChain.hash(line.bytes)
            if seq == head.seq {
                guard previousHash == head.hash else {
                    return fail("does not match audit.head (seq \(head.seq)): the log was rewritten after the head was written")
                }
                headMatched = true
            }
        }
        guard headMatched else {
            return .failure(
                Failure(
                    line: 0, seq: nil,
                    reason:
                        "audit.head names seq \(head.seq) but the log ends at seq \(number): records were removed from its end"))
        }
        return .success(Report(records: number, headSeq: head.seq, afterHead: number - head.seq))
    }
}
