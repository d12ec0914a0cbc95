#if canImport(Glibc)
    import Glibc
#endif

/// Appends one JSON object per line to a file, each line written with a single `write(2)` on an
/// `O_APPEND` descriptor so concurrent writers never interleave within a line.
///
/// The sandbox event log (`events.jsonl`) and the network log both use it; an audit trail can
/// read and chain the same lines.
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
        write(lines: Self.line(fields))
    }

    /// `fields` as a JSON line, newline included, for `write(lines:)`.
    public static func line(_ fields: [(String, JSONValue)]) -> String {
        var line = JSONValue.object(fields).encoded()
        line.append("\n")
        return line
    }

    /// Writes whole lines made by `line(_:)`, with one `write(2)` (more only if the kernel takes
    /// part of them).
    public func write(lines: String) {
        var lines = lines
        lines.withUTF8 { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, base + offset, buffer.count - offset)
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
        var out = ""
        out.reserveCapacity(256)
        encode(into: &out)
        return out
    }

    /// Appends in place: the network log writes a line per connection, and building it from
    /// joined pieces cost more than the write.
    public func encode(into out: inout String) {
        switch self {
        case .string(let s): JSONValue.quote(s, into: &out)
        case .int(let i): out += String(i)
        case .double(let d): out += d.isFinite ? String(d) : "null"
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        case .array(let items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                item.encode(into: &out)
            }
            out += "]"
        case .object(let pairs):
            out += "{"
            for (index, pair) in pairs.enumerated() {
                if index > 0 { out += "," }
                JSONValue.quote(pair.0, into: &out)
                out += ":"
                pair.1.encode(into: &out)
            }
            out += "}"
        }
    }

    public static func quote(_ s: String) -> String {
        var out = ""
        quote(s, into: &out)
        return out
    }

    public static func quote(_ s: String, into out: inout String) {
        out += "\""
        // Only ASCII controls, `"` and `\` need escaping, and in UTF-8 those bytes are never part
        // of a longer sequence: a string without them is copied as it is.
        guard s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) else {
            out += s
            out += "\""
            return
        }
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
        out += "\""
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}
