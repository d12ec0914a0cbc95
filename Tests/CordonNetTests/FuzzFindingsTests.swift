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

    /// Banners and binary stay opaque as soon as no request line can follow, and a request line
    /// longer than the limit is opaque whether or not its LF has come.
    @Test func whatCannotBeARequestLineIsOpaqueAtOnce() {
        #expect(FirstBytes.inspect(Array("SSH-2.0-Open".utf8)) == .other)
        #expect(FirstBytes.inspect(Array("GET / HTTP/2".utf8)) == .other)
        #expect(FirstBytes.inspect(Array("GET / HTTP/1.1 x".utf8)) == .other)
        #expect(FirstBytes.inspect(Array("Get".utf8)) == .other)
        let long = Array("GET /".utf8) + Array(repeating: UInt8(ascii: "a"), count: FirstBytes.requestLineLimit) + Array(" HTTP/1.1\r\n\r\n".utf8)
        #expect(FirstBytes.inspect(long) == .other)
        #expect(FirstBytes.inspect(Array(long.prefix(FirstBytes.requestLineLimit + 1))) == .other)
    }
}
