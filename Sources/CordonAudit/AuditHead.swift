import CordonCore

/// `<sandbox>/audit.head`: where the audit chain ended at the last stop, sync or down. The
/// verifier requires the log to contain exactly this record: a log cut back before it, or a
/// chain rewritten (whose record at that seq hashes differently), no longer matches.
public struct AuditHead: Sendable, Equatable {
    public var sandbox: String
    public var seq: Int
    public var hash: String
    public var time: String

    /// The file's bytes: one JSON object and a newline.
    public var bytes: [UInt8] {
        let value = JSONValue.object([
            ("version", .int(1)), ("sandbox", .string(sandbox)), ("seq", .int(seq)), ("hash", .string(hash)), ("time", .string(time)),
        ])
        return Array((value.encoded() + "\n").utf8)
    }
}

extension AuditHead {
    /// The head in `bytes`; nil when they are not a head cordon wrote.
    public init?(bytes: [UInt8]) {
        guard let value = try? JSONValue.parse(bytes),
            case .int(1)? = value["version"],
            case .string(let sandbox)? = value["sandbox"],
            case .int(let seq)? = value["seq"],
            case .string(let hash)? = value["hash"],
            case .string(let time)? = value["time"],
            seq >= 0
        else { return nil }
        self.init(sandbox: sandbox, seq: seq, hash: hash, time: time)
    }
}
