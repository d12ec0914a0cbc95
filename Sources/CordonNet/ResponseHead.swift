import NIOCore

/// A response head for the client of a forwarded request: the status line and headers as the
/// origin sent them, less the hop-by-hop `Connection`, `Keep-Alive` and `Proxy-Connection`
/// (with their continuation lines); `bytes(connection:)` adds the proxy's own `Connection`. Pure.
struct ResponseHead {
    static let hopByHop = ["connection", "keep-alive", "proxy-connection"].map { Array($0.utf8) }
    static let framingHeaders = ["content-length", "transfer-encoding"].map { Array($0.utf8) }

    var status: Int
    /// Not a 1xx interim response (101 ends the head(s) too).
    var isFinal: Bool { status >= 200 || status == 101 }
    var framing = BodyFraming.Header()
    /// The origin ends its connection after this response (`Connection: close`, or HTTP/1.0):
    /// an upstream kept for the next request (`ResponseRelay.keepsUpstream`) is not kept then.
    var originCloses = false
    /// `Content-Type` and `Content-Encoding`, for a metered response (`UsageExchange`).
    var contentType: String?
    var contentEncoding: String?
    /// The status line and the kept header lines, each ending in CRLF.
    private var lines: [UInt8]

    /// `head`: the bytes before the blank line. nil when it is not an HTTP/1 status line followed
    /// by `name: value` lines. One pass over the bytes (it runs for every response).
    init?(_ head: ArraySlice<UInt8>) {
        var out: [UInt8] = []
        out.reserveCapacity(head.count + 24)
        var status: Int?
        var keeping = true
        var lineStart = head.startIndex
        while true {
            let newline = head[lineStart...].firstIndex(of: 0x0A) ?? head.endIndex
            let line = newline > lineStart && head[newline - 1] == 0x0D ? head[lineStart..<(newline - 1)] : head[lineStart..<newline]
            if status == nil {
                guard line.starts(with: "HTTP/1.".utf8), line.count >= 12, line[line.startIndex + 8] == 0x20 else { return nil }
                let code = line[(line.startIndex + 9)..<(line.startIndex + 12)]
                guard code.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
                status = code.reduce(0) { $0 * 10 + Int($1 - 0x30) }
                originCloses = line[line.startIndex + 7] != UInt8(ascii: "1")
                out += line
                out += [0x0D, 0x0A]
            } else if let first = line.first, first == 0x20 || first == 0x09 {
                if keeping {  // obs-fold: belongs to the line above
                    out += line
                    out += [0x0D, 0x0A]
                }
            } else {
                guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex else { return nil }
                let name = line[..<colon]
                keeping = !Self.hopByHop.contains { name.equalsIgnoringASCIICase($0) }
                if !keeping, name.equalsIgnoringASCIICase("connection".utf8),
                    HTTPProxyHandler.listContains([String(decoding: line[line.index(after: colon)...], as: UTF8.self)], token: "close")
                {
                    originCloses = true
                }
                if keeping {
                    out += line
                    out += [0x0D, 0x0A]
                }
                if name.equalsIgnoringASCIICase("content-type".utf8) {
                    contentType = String(decoding: line[line.index(after: colon)...], as: UTF8.self).trimmingSpaces()
                } else if name.equalsIgnoringASCIICase("content-encoding".utf8) {
                    contentEncoding = String(decoding: line[line.index(after: colon)...], as: UTF8.self).trimmingSpaces()
                }
                if let known = Self.framingHeaders.first(where: { name.equalsIgnoringASCIICase($0) }) {
                    framing.add(name: String(decoding: known, as: UTF8.self), value: String(decoding: line[line.index(after: colon)...], as: UTF8.self))
                }
            }
            guard newline < head.endIndex else { break }
            lineStart = newline + 1
        }
        guard let status else { return nil }
        self.status = status
        self.lines = out
    }

    /// The head for the client, ending in the blank line; `connection` (`close`, `Upgrade`) is
    /// added to a final response (interim ones never carry it).
    func bytes(connection: String?) -> [UInt8] {
        var buffer = ByteBuffer()
        write(connection: connection, into: &buffer)
        return Array(buffer.readableBytesView)
    }

    /// Writes what `bytes(connection:)` returns.
    func write(connection: String?, into buffer: inout ByteBuffer) {
        buffer.writeBytes(lines)
        if isFinal, let connection {
            buffer.writeStaticString("Connection: ")
            buffer.writeString(connection)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("\r\n")
    }
}
