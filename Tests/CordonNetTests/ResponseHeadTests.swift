import NIOCore
import Testing

@testable import CordonNet

/// The head of a forward request's response as the client gets it (the body is relayed as is).
@Suite struct ResponseHeadTests {
    func rewrite(_ text: String) -> (text: String, isFinal: Bool)? {
        ResponseHead(ArraySlice(Array(text.utf8))).map { (String(decoding: $0.bytes(connection: "close"), as: UTF8.self), $0.isFinal) }
    }

    @Test func aKeptConnectionGetsNoConnectionHeader() {
        let head = ResponseHead(ArraySlice(Array("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2".utf8)))
        #expect(head.map { String(decoding: $0.bytes(connection: nil), as: UTF8.self) } == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
        #expect(head?.framing.contentLength == 2)
    }

    @Test func hopByHopHeadersGoAndConnectionCloseComes() {
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\nKEEP-ALIVE: timeout=5\r\nproxy-connection: x\r\nX-Keep: 1"
        let result = rewrite(head)
        #expect(result?.text == "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Keep: 1\r\nConnection: close\r\n\r\n")
        #expect(result?.isFinal == true)
    }

    @Test func continuationLinesFollowTheirHeader() {
        let head = "HTTP/1.0 404 Not Found\r\nConnection: keep-alive,\r\n  Upgrade\r\nX-Folded: a\r\n\tb"
        #expect(rewrite(head)?.text == "HTTP/1.0 404 Not Found\r\nX-Folded: a\r\n\tb\r\nConnection: close\r\n\r\n")
    }

    @Test func interimResponsesPassWithoutConnectionClose() {
        #expect(rewrite("HTTP/1.1 100 Continue")?.text == "HTTP/1.1 100 Continue\r\n\r\n")
        #expect(rewrite("HTTP/1.1 100 Continue")?.isFinal == false)
        #expect(rewrite("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload")?.isFinal == false)
        #expect(rewrite("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket")?.isFinal == true)
    }

    @Test(arguments: ["", "HTTP/1.1", "HTTP/2 200 OK", "HTTP/1.1 2x0 OK", "ICY 200 OK", "HTTP/1.1 200 OK\r\nno colon here", "HTTP/1.1 200 OK\r\n: empty name"])
    func malformedHeadsAreRefused(_ head: String) {
        #expect(rewrite(head) == nil)
    }
}

/// Where a relayed response body ends, over raw bytes in any split.
@Suite struct BodyFramingTests {
    static func header(_ pairs: [(String, String)]) -> BodyFraming.Header {
        var header = BodyFraming.Header()
        for (name, value) in pairs { header.add(name: name, value: value) }
        return header
    }

    /// Feeds `body` in pieces of `step` bytes; the number of bytes taken and whether it ended.
    static func feed(_ framing: BodyFraming, _ body: String, step: Int) -> (taken: Int, complete: Bool) {
        var framing = framing
        let bytes = Array(body.utf8)
        var taken = 0
        var offset = 0
        while offset < bytes.count, !framing.isComplete {
            let piece = ByteBuffer(bytes: bytes[offset..<min(offset + step, bytes.count)])
            taken += framing.consume(piece.readableBytesView)
            offset += step
        }
        return (taken, framing.isComplete)
    }

    @Test(arguments: [1, 2, 3, 7, 1000])
    func contentLengthEndsTheBodyAndDropsWhatFollows(step: Int) {
        let framing = BodyFraming(Self.header([("content-length", " 5")]), status: 200, requestWasHead: false)
        let result = Self.feed(framing, "helloHTTP/1.1 200 OK\r\n\r\nsmuggled", step: step)
        #expect(result.taken == 5 && result.complete)
    }

    @Test(arguments: [1, 2, 5, 1000])
    func chunkedBodiesEndAfterTheirTrailers(step: Int) {
        let framing = BodyFraming(Self.header([("transfer-encoding", "gzip, Chunked")]), status: 200, requestWasHead: false)
        let body = "5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n"
        let result = Self.feed(framing, body + "extra bytes", step: step)
        #expect(result.taken == body.utf8.count && result.complete)
        let bare = Self.feed(framing, "0\r\n\r\nextra", step: step)
        #expect(bare.taken == 5 && bare.complete)
    }

    @Test func malformedChunksEndTheBody() {
        let framing = BodyFraming(Self.header([("transfer-encoding", "chunked")]), status: 200, requestWasHead: false)
        #expect(Self.feed(framing, "zz\r\nhello", step: 100).complete)
        #expect(Self.feed(framing, "5\r\nhelloXX", step: 100) == (8, true))
    }

    @Test func bodilessResponsesEndAtOnce() {
        let length = Self.header([("content-length", "10")])
        #expect(BodyFraming(length, status: 200, requestWasHead: true).isComplete)
        #expect(BodyFraming(length, status: 204, requestWasHead: false).isComplete)
        #expect(BodyFraming(length, status: 304, requestWasHead: false).isComplete)
        #expect(BodyFraming(Self.header([("content-length", "0")]), status: 200, requestWasHead: false).isComplete)
    }

    @Test func withoutATrustworthyLengthTheOriginsCloseEndsIt() {
        for header in [
            Self.header([]), Self.header([("content-length", "5"), ("content-length", "6")]), Self.header([("transfer-encoding", "gzip")]),
            Self.header([("content-length", "-1")]),
        ] {
            let framing = BodyFraming(header, status: 200, requestWasHead: false)
            #expect(!framing.isComplete)
            #expect(Self.feed(framing, String(repeating: "x", count: 50), step: 7) == (50, false))
        }
    }
}
