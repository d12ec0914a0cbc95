import Testing

@testable import CordonNet

/// Bugs the fuzz targets in fuzz/ found, each with the input (or its shape) that showed it. The
/// reproducers are in fuzz/corpus/TARGET/ too.
@Suite struct FuzzFindingsTests {
    /// fuzz/corpus/http-request/split-after-cr: a request line cut before its LF was `.other` as
    /// soon as the cut held a byte outside printable ASCII (its CR, a tab, UTF-8 in the path),
    /// though the whole line is HTTP: a client that ended its first segment there made a
    /// transparent flow opaque (decided by address, not by each request's Host) and passed HTTP
    /// with another Host through a tunnel that allows opaque traffic.
    @Test func aRequestLineCutBeforeItsLFIsNotOpaque() {
        let requests = [
            "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n",
            "GET /caf\u{E9}\tx HTTP/1.1\r\nHost: a.test\r\n\r\n",
            "POST /\u{1} HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n",
        ]
        for request in requests {
            let bytes = Array(request.utf8)
            let whole = FirstBytes.inspect(bytes)
            #expect(whole != .other && whole != .needMore, "\(request.debugDescription)")
            for cut in 1..<bytes.count {
                let early = FirstBytes.inspect(Array(bytes[..<cut]))
                #expect(early == .needMore || early == whole, "the first \(cut) bytes of \(request.debugDescription) are \(early), all \(whole)")
            }
        }
        #expect(FirstBytes.inspect(Array("GET / HTTP/1.1\r".utf8)) == .needMore)
    }

    /// Binary and lines that are not request lines stay opaque as soon as no request line can
    /// follow; a line that could still become one waits for its end.
    @Test func whatCannotBeARequestLineIsOpaqueAtOnce() {
        #expect(FirstBytes.inspect(Array("SSH-2.0-OpenSSH_9.6\r\n".utf8)) == .other)
        #expect(FirstBytes.inspect([UInt8]("SSH-2.0".utf8) + [0]) == .other)
        #expect(FirstBytes.inspect(Array("*1\r\n$4\r\nPING\r\n".utf8)) == .other)
        #expect(FirstBytes.inspect(Array("get key\r\n".utf8)) == .other)
        #expect(FirstBytes.inspect(Array("GET / HTTP/1.1 x\r\n".utf8)) == .other)
        #expect(FirstBytes.inspect([0x41, 0x20, 0x00, 0x01]) == .other)
        #expect(FirstBytes.inspect([0x00, 0x41]) == .other)
    }
}

/// Found by the attack suite (net.silent-fronting, net.http-disguise): first bytes that a server
/// reads as an HTTP request (or a ClientHello) but the gate called opaque passed, with any Host or
/// SNI, through a port the profile listed explicitly (where opaque traffic may pass).
@Suite struct DisguisedFirstBytesTests {
    func isMalformed(_ verdict: FirstBytes) -> Bool {
        if case .malformed = verdict { return true }
        return false
    }

    /// Lines servers read as requests though a client should not send them: refused, never opaque.
    @Test(arguments: [
        "\r\nGET / HTTP/1.1\r\nHost: evil.test\r\n\r\n",  // empty lines first (RFC 9112 2.2: skipped)
        "\n\nGET / HTTP/1.1\r\nHost: evil.test\r\n\r\n",
        "GET  /  HTTP/1.1\r\nHost: evil.test\r\n\r\n",  // runs of spaces (nginx)
        "GET\t/ HTTP/1.1\r\nHost: evil.test\r\n\r\n",
        "GET /a b HTTP/1.1\r\nHost: evil.test\r\n\r\n",  // a space in the target (nginx)
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",  // HTTP/2 with prior knowledge: HPACK names no gate reads
        "GET / HTTP/2\r\nHost: evil.test\r\n\r\n",
        "GET / http/1.1\r\nHost: evil.test\r\n\r\n",
        "GET / HTTP/1.1\nHost: evil.test\r\n\r\n",
    ])
    func serverReadableRequestLinesAreRefused(request: String) {
        let bytes = Array(request.utf8)
        #expect(isMalformed(FirstBytes.inspect(bytes)), "\(request.debugDescription): \(FirstBytes.inspect(bytes))")
        for cut in 1..<bytes.count {
            let early = FirstBytes.inspect(Array(bytes[..<cut]))
            #expect(early == .needMore || early == FirstBytes.inspect(bytes), "\(cut) bytes of \(request.debugDescription): \(early)")
        }
    }

    /// Any token is a method to some server (Go's reads `get`): such a request is HTTP, its Host
    /// judged (and NIO's parser then refuses a method it does not know).
    @Test func tokenMethodsAreHTTP() {
        #expect(FirstBytes.inspect(Array("get / HTTP/1.1\r\nHost: evil.test\r\n\r\n".utf8)) == .http(method: "get", host: "evil.test"))
        #expect(FirstBytes.inspect(Array("M-SEARCH * HTTP/1.1\r\nHost: a.test\r\n\r\n".utf8)) == .http(method: "M-SEARCH", host: "a.test"))
        #expect(FirstBytes.inspect(Array("_X / HTTP/1.0\r\n\r\n".utf8)) == .http(method: "_X", host: nil))
    }

    /// A line that could be a request line and runs past the limit is refused whether or not its
    /// LF has come (Go reads request lines of up to 1 MB).
    @Test func anOverlongRequestLineIsRefused() {
        let long =
            Array("GET /".utf8) + Array(repeating: UInt8(ascii: "a"), count: FirstBytes.requestLineLimit) + Array(" HTTP/1.1\r\nHost: evil.test\r\n\r\n".utf8)
        #expect(isMalformed(FirstBytes.inspect(long)))
        #expect(isMalformed(FirstBytes.inspect(Array(long.prefix(FirstBytes.requestLineLimit + 1)))))
        #expect(FirstBytes.inspect(Array(long.prefix(FirstBytes.requestLineLimit))) == .needMore)
    }

    /// A ClientHello larger than the limit (OpenSSL reads up to 128 KiB) is refused, not opaque.
    @Test func anOversizedClientHelloIsRefused() {
        var body: [UInt8] = [0x03, 0x03] + Array(repeating: 0, count: 32) + [0x00, 0x00, 0x02, 0x13, 0x01, 0x01, 0x00]
        body += [0x00, 0x15, 0xFF, 0xF0] + Array(repeating: 0, count: 0xFFF0)  // padding
        let message = [0x01, UInt8(body.count >> 16), UInt8(body.count >> 8 & 0xFF), UInt8(body.count & 0xFF)] + body
        var records: [UInt8] = []
        var offset = 0
        while offset < message.count {
            let piece = message[offset..<min(message.count, offset + 16_384)]
            records += [0x16, 0x03, 0x01, UInt8(piece.count >> 8), UInt8(piece.count & 0xFF)] + piece
            offset += piece.count
        }
        #expect(isMalformed(FirstBytes.inspect(records)))
        #expect(isMalformed(FirstBytes.inspect(Array(records.prefix(FirstBytes.limit)))))
        #expect(FirstBytes.inspect(Array(records.prefix(9))) == .needMore)
    }
}
