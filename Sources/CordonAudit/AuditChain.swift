import CordonCore
import CordonConfig
import CordonOS

#if canImport(Glibc)
    import Glibc
#endif

/// The hash chain's rules, shared by the writer and the verifier: a record's hash is the SHA-256
/// of its line's exact bytes (without the newline), and each record's `prev` is the hash of the
/// line before it; the first record's `prev` is the hash of a genesis text naming the sandbox, so
/// one sandbox's log cannot pass for another's.
public enum AuditChain {
    /// The `prev` of a sandbox's first record.
    public static func genesis(sandbox: String) -> String {
        ContentHash.sha256Hex(Array("cordon audit log v1 of sandbox \(sandbox)".utf8))
    }

    /// The hash of a line (its bytes without the trailing newline).
    public static func hash(_ line: some Collection<UInt8>) -> String {
        var hash = ContentHash()
        hash.update(Array(line))
        return hash.finalizeHex()
    }

    /// The line of `record` as number `seq` after the record hashed `prev`, newline excluded.
    public static func line(_ record: AuditRecord, seq: Int, prev: String) -> [UInt8] {
        let value = JSONValue.object(
            [("version", .int(1)), ("seq", .int(seq)), ("time", .string(record.time)), ("kind", .string(record.kind))] + record.fields + [
                ("prev", .string(prev))
            ])
        return Array(value.encoded().utf8)
    }

    /// Longest line the writer reads back from the end of the log (records are bounded far
    /// below it: `AuditRecord.textLimit`, `listLimit`).
    public static let tailLimit = 1024 * 1024

    /// Where a log ends: the last record's seq and hash. A log that is missing or empty is at
    /// seq 0 with the genesis hash.
    public struct Tail: Sendable, Equatable {
        public var seq: Int
        public var hash: String
        /// The log's size when it was read (the writer re-reads only when it changed).
        public var size: Int
        /// False when the last line was cut short: the next record starts on a line of its own.
        public var complete: Bool = true
    }

    /// The tail of the log open as `fd`, read backwards from its end (at most `tailLimit` bytes).
    /// A last line cut short (no newline: a crash mid-write) or not a record is still chained
    /// to by its bytes; its seq counts as the one before the next: the verifier reports it.
    static func tail(fd: Int32, sandbox: String) throws(CordonError) -> Tail {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw CordonError(.io, "cannot read the audit log", cause: String(cString: strerror(errno))) }
        let size = Int(st.st_size)
        guard size > 0 else { return Tail(seq: 0, hash: genesis(sandbox: sandbox), size: 0) }
        let span = min(size, tailLimit)
        var buffer = [UInt8](repeating: 0, count: span)
        var got = 0
        while got < span {
            let n = buffer.withUnsafeMutableBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return pread(fd, base + got, span - got, off_t(size - span + got))
            }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw CordonError(.io, "cannot read the audit log", cause: n < 0 ? String(cString: strerror(errno)) : "short read") }
            got += n
        }
        var end = buffer.count
        if buffer[end - 1] == 0x0A { end -= 1 }
        let start = buffer[..<end].lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        guard start > 0 || span == size else {
            throw CordonError(
                .io, "the audit log's last line is longer than \(tailLimit) bytes: it was not written by cordon",
                hint: "check it with `cordon audit verify`; move the log aside to start a new one")
        }
        let last = buffer[start..<end]
        var seq = 0
        if case .int(let n)? = (try? JSONValue.parse(Array(last)))?["seq"] { seq = n }
        return Tail(seq: seq, hash: hash(last), size: size, complete: buffer[buffer.count - 1] == 0x0A)
    }
}
