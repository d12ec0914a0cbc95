import CordonPolicy
/// The HTTP/1 side of `FirstBytes`: the request line and the Host of a request head.
extension FirstBytes {
    static func inspectHTTP(_ bytes: [UInt8]) -> FirstBytes {
        // Judge the request line as soon as it is complete, and call an incomplete one opaque only
        // when no ending could make it a request line (binary with a NUL is opaque at once): a
        // sender picks where its segments end, and a request line cut before its LF must not pass
        // as opaque traffic that the whole line would have had judged as HTTP. What servers read
        // as a request line is wider than what a client should send (any token as the method,
        // runs of spaces, spaces in the target, other versions): all of it is HTTP here, refused
        // unless it is exactly `METHOD SP target SP HTTP/1.x CRLF`, so that nothing a server could
        // take for a request passes as opaque bytes on a port that allows them.
        let window = requestLineLimit + 1
        guard let lineEnd = bytes.prefix(window).firstIndex(of: 0x0A) else {
            guard couldStartRequestLine(bytes.prefix(window)) else { return .other }
            return bytes.count < window ? .needMore : .malformed(reason: "a line that could be an HTTP request line runs past \(requestLineLimit) bytes")
        }
        switch requestLine(bytes[..<lineEnd]) {
        case .notHTTP: return .other
        case .malformed(let reason): return .malformed(reason: reason)
        case .valid: break
        }
        let method = bytes.prefix { RequestHeadRules.isTokenByte($0) }
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
        return .http(method: String(decoding: method, as: UTF8.self), host: host)
    }

    enum RequestLine: Equatable {
        /// No server would read it as a request line.
        case notHTTP
        /// A server could read it as a request line, but it breaks a rule (the reason).
        case malformed(String)
        case valid
    }

    /// Judges a complete line (without its LF). It is HTTP when it starts with a token, holds no
    /// NUL, and its last space-separated word starts with `HTTP/` in any case; then it must be
    /// exactly `METHOD SP target SP HTTP/1.d` and end in CR.
    static func requestLine(_ line: ArraySlice<UInt8>) -> RequestLine {
        guard couldStartRequestLine(line) else { return .notHTTP }
        var text = line
        let endsInCR = text.last == 0x0D
        if endsInCR { text = text.dropLast() }
        let words = text.split { $0 == 0x20 || $0 == 0x09 }
        guard words.count >= 2, let last = words.last, startsWithVersionPrefix(last) else { return .notHTTP }
        guard endsInCR else { return .malformed("HTTP request line ends in a bare LF") }
        let parts = text.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts.contains(where: { $0.isEmpty || $0.contains(0x09) }) else {
            return .malformed("HTTP request line is not METHOD SP target SP version (extra spaces or tabs)")
        }
        let version = parts[2]
        guard version.count == 8, version.starts(with: "HTTP/1.".utf8), let minor = version.last, (0x30...0x39).contains(minor) else {
            return .malformed("HTTP version \(String(decoding: version.prefix(16), as: UTF8.self).debugDescription) in plain text is not HTTP/1.x")
        }
        return .valid
    }

    /// The longest request line judged by what it says; a longer one that could be a request line
    /// is refused, however it ends.
    static let requestLineLimit = 8192

    /// Whether some ending of `prefix` (no LF) could be read as a request line: it starts with a
    /// token (the method), which runs to the first space or tab, and holds no NUL.
    static func couldStartRequestLine(_ prefix: ArraySlice<UInt8>) -> Bool {
        guard let first = prefix.first, RequestHeadRules.isTokenByte(first), !prefix.contains(0) else { return false }
        for byte in prefix {
            if byte == 0x20 || byte == 0x09 { return true }
            if !RequestHeadRules.isTokenByte(byte) { return false }
        }
        return true
    }

    private static func startsWithVersionPrefix(_ word: ArraySlice<UInt8>) -> Bool {
        let prefix = Array("http/".utf8)
        return word.count >= prefix.count && word.prefix(prefix.count).equalsIgnoringASCIICase(prefix)
    }

    /// Empty lines before a request line: servers skip them (RFC 9112 2.2) and read the request
    /// that follows, so what follows is judged, and an HTTP request there is refused (a client
    /// has no reason to send one, and a reader that missed it would pass it as opaque bytes). A run
    /// of more than `requestLineLimit` CR and LF bytes is opaque.
    static func inspectAfterEmptyLines(_ bytes: [UInt8]) -> FirstBytes {
        guard let start = bytes.firstIndex(where: { $0 != 0x0D && $0 != 0x0A }) else {
            return bytes.count > requestLineLimit ? .other : .needMore
        }
        guard start <= requestLineLimit, RequestHeadRules.isTokenByte(bytes[start]) else { return .other }
        switch inspectHTTP(Array(bytes[start...])) {
        case .needMore: return .needMore
        case .http, .malformed: return .malformed(reason: "empty lines before an HTTP request line")
        case .tls, .other: return .other
        }
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
