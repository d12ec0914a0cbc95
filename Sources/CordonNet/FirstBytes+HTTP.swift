import CordonPolicy
/// The HTTP/1 side of `FirstBytes`: the request line and the Host of a request head.
extension FirstBytes {
    static func inspectHTTP(_ bytes: [UInt8]) -> FirstBytes {
        // Judge the request line as soon as it is complete, and call an incomplete one opaque only
        // when no ending could make it a request line (banners such as `SSH-2.0-…` are opaque at
        // once): a sender picks where its segments end, and a request line cut before its LF must
        // not pass as opaque traffic that the whole line would have had judged as HTTP.
        guard let lineEnd = bytes.firstIndex(of: 0x0A) else {
            return bytes.count > Self.requestLineLimit || !couldStartRequestLine(bytes) ? .other : .needMore
        }
        guard lineEnd <= Self.requestLineLimit else { return .other }
        let parts = bytes[..<lineEnd].split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[2].starts(with: "HTTP/1.".utf8), parts[0].allSatisfy({ (0x41...0x5A).contains($0) }) else {
            return .other
        }
        guard lineEnd > 0, bytes[lineEnd - 1] == 0x0D, let version = parts[2].last, version == 0x0D else {
            return .malformed(reason: "HTTP request line ends in a bare LF")
        }
        // One pass over the head, line by line: every line ends in CRLF, and the empty line ends it.
        var fields: [(name: String, value: String)] = []
        var lineStart = lineEnd + 1
        while true {
            guard let end = bytes[lineStart...].firstIndex(of: 0x0A) else {
                return bytes.count >= limit ? .malformed(reason: "HTTP request head larger than \(limit) bytes") : .needMore
            }
            guard end > lineStart, bytes[end - 1] == 0x0D else { return .malformed(reason: "HTTP request head has a bare LF") }
            let line = bytes[lineStart..<(end - 1)]
            lineStart = end + 1
            if line.isEmpty { break }
            if line.contains(0x0D) { return .malformed(reason: "HTTP request head has a bare CR") }
            if let first = line.first, first == 0x20 || first == 0x09 {
                return .malformed(reason: "HTTP request head has a folded line (obs-fold)")
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
                return .malformed(reason: "HTTP header line without a colon")
            }
            let name = line[..<colon]
            guard !name.isEmpty, name.allSatisfy(RequestHeadRules.isTokenByte) else {
                return .malformed(
                    reason: "HTTP header name \(String(decoding: name, as: UTF8.self).debugDescription) is not a token (whitespace before the colon?)")
            }
            fields.append((String(decoding: name, as: UTF8.self), String(decoding: line[(colon + 1)...], as: UTF8.self)))
        }
        if let problem = RequestHeadRules.problem(fields) { return .malformed(reason: problem) }
        let host = fields.first { $0.name.utf8.equalsIgnoringASCIICase("host".utf8) }.map { stripPort($0.value.trimmingSpaces()) }
        return .http(method: String(decoding: parts[0], as: UTF8.self), host: host)
    }

    /// The longest request line judged as HTTP; a longer one is opaque, however it ends.
    static let requestLineLimit = 8192

    /// Whether some ending of `prefix` (no LF yet) passes the request-line checks above: at most
    /// three space-separated parts, a method of capitals, a version part that is or starts
    /// `HTTP/1.`.
    static func couldStartRequestLine(_ prefix: [UInt8]) -> Bool {
        let parts = prefix.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count <= 3, let method = parts.first, method.allSatisfy({ (0x41...0x5A).contains($0) }) else { return false }
        guard parts.count == 3 else { return true }
        let version = Array("HTTP/1.".utf8)
        return parts[2].starts(with: version) || version.starts(with: parts[2])
    }

    static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4)
        where bytes[index] == 0x0D && bytes[index + 1] == 0x0A && bytes[index + 2] == 0x0D && bytes[index + 3] == 0x0A {
            return index
        }
        return nil
    }

    /// `host:port` → `host`; `[v6]:port` → `[v6]`.
    public static func stripPort(_ authority: String) -> String {
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return authority }
            return String(authority[...close])
        }
        let bytes = authority.utf8
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), !bytes[bytes.index(after: colon)...].contains(UInt8(ascii: ":")) else {
            return authority
        }
        return String(authority[..<colon])
    }
}
