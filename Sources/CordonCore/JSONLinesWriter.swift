#if canImport(Glibc)
import Glibc
#endif

/// Appends one JSON object per line to a file, each line written with a single `write(2)` on an
/// `O_APPEND` descriptor so concurrent writers never interleave within a line.
///
/// The sandbox event log (`events.jsonl`) and the network log both use it; later issues (audit)
/// read the same lines.
public final class JSONLinesWriter: @unchecked Sendable {
    private let fd: Int32
    public let path: String

    public init(path: String) throws(CordonError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw CordonError(.io, "cannot open log \(path)", cause: String(cString: strerror(errno)))
        }
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    /// Writes `fields` as one JSON line. Keys are written in the order given.
    public func append(_ fields: KeyValuePairs<String, JSONValue>) {
        append(pairs: fields.map { ($0.key, $0.value) })
    }

    /// Writes fields built at run time as one JSON line, in the order given.
    public func append(pairs fields: [(String, JSONValue)]) {
        var line = JSONValue.object(fields).encoded()
        line.append("\n")
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 { if errno == EINTR { continue }; return }
                offset += n
            }
        }
    }
}

/// A small JSON value with a deterministic encoder (key order preserved), used for log lines
/// where pulling in Foundation's encoder would be heavier than the job.
public indirect enum JSONValue: Sendable, Equatable {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool { lhs.encoded() == rhs.encoded() }

    public func encoded() -> String {
        switch self {
        case .string(let s): return JSONValue.quote(s)
        case .int(let i): return String(i)
        case .double(let d): return d.isFinite ? String(d) : "null"
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .array(let items): return "[" + items.map { $0.encoded() }.joined(separator: ",") + "]"
        case .object(let pairs):
            return "{" + pairs.map { JSONValue.quote($0.0) + ":" + $0.1.encoded() }.joined(separator: ",") + "}"
        }
    }

    public static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}
