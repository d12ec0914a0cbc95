import CordonPolicy
import NIOCore

/// Upstream side of a forwarded request: the response goes to the client as the origin sent it,
/// except its head(s), rewritten by `ResponseHead` (hop-by-hop headers out; `Connection: close`
/// in unless the client's connection will carry another request). The body is relayed byte for
/// byte (no decoding and re-encoding), following its framing (`BodyFraming`) so the response
/// ends where its head says even when the origin keeps its connection open; reads are held while
/// the client is full. At the end the upstream closes and the request side decides what becomes
/// of the client's connection.
final class ResponseRelay: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private let client: any Channel
    private let record: FlowRecord
    private weak var requestSide: HTTPProxyHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private let requestWasHead: Bool
    /// The client may reuse its connection (its request allowed it).
    private let clientKeepsConnection: Bool
    /// The request asked for a protocol switch: a 101 makes the connections a tunnel.
    private let upgrade: Bool
    /// Bytes of a response head not complete yet; nil once the final head went out.
    private var head: [UInt8]? = []
    /// Where the body ends, once the final head is known.
    private var framing: BodyFraming?
    /// The client was told the connection stays open.
    private var keptOpen = false
    private var ended = false

    init(client: any Channel, record: FlowRecord, requestSide: HTTPProxyHandler, requestWasHead: Bool, clientKeepsConnection: Bool, upgrade: Bool) {
        self.client = client
        self.record = record
        self.requestSide = requestSide
        self.requestWasHead = requestWasHead
        self.clientKeepsConnection = clientKeepsConnection
        self.upgrade = upgrade
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !ended else { return }
        let buffer = unwrapInboundIn(data)
        guard var pending = head else {
            relayBody(buffer, context: context)
            return
        }
        pending += buffer.readableBytesView
        // Interim (1xx) heads go out as they come; the final one switches to the body.
        while let end = FirstBytes.headEnd(pending) {
            guard let response = ResponseHead(pending[..<end]) else {
                fail(context, "malformed response head")
                return
            }
            pending.removeFirst(end + 4)
            if response.status == 101 {
                guard upgrade else {
                    fail(context, "101 Switching Protocols without an upgrade request")
                    return
                }
                head = nil
                ended = true
                client.write(headBuffer(response, connection: "Upgrade"), promise: nil)
                if !pending.isEmpty { record.countDown(pending.count) }
                client.writeAndFlush(client.allocator.buffer(bytes: pending), promise: nil)
                if let requestSide { requestSide.upgraded(upstream: context.channel) } else { context.close(promise: nil) }
                return
            }
            guard response.isFinal else {
                client.write(headBuffer(response, connection: nil), promise: nil)
                continue
            }
            head = nil
            let framing = BodyFraming(response.framing, status: response.status, requestWasHead: requestWasHead)
            self.framing = framing
            keptOpen = clientKeepsConnection && !framing.isCloseDelimited
            client.write(headBuffer(response, connection: keptOpen ? nil : "close"), promise: nil)
            // What follows the head came in this read (an earlier one would have completed it).
            relayBody(buffer.getSlice(at: buffer.writerIndex - pending.count, length: pending.count)!, context: context)
            return
        }
        guard pending.count <= FirstBytes.limit else {
            fail(context, "response head larger than \(FirstBytes.limit) bytes")
            return
        }
        head = pending
    }

    private func headBuffer(_ response: ResponseHead, connection: String?) -> ByteBuffer {
        var out = client.allocator.buffer(capacity: 512)
        response.write(connection: connection, into: &out)
        return out
    }

    /// Body bytes up to the body's end; at the end the response is complete: the client gets
    /// it all and the upstream closes (whatever the origin sends after it is dropped).
    private func relayBody(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        guard var framing else { return }
        let used = framing.consume(buffer.readableBytesView)
        self.framing = framing
        if used > 0 {
            record.countDown(used)
            client.write(buffer.getSlice(at: buffer.readerIndex, length: used)!, promise: nil)
        }
        if framing.isComplete { end(context) }
    }

    /// The response is over: complete by its framing, or cut short by the origin's close (the
    /// client sees that by the body's own framing, or gets no head at all: just the close).
    private func end(_ context: ChannelHandlerContext) {
        guard !ended else { return }
        ended = true
        context.close(promise: nil)
        let complete = framing?.isComplete ?? false
        if let requestSide {
            requestSide.responseEnded(reusable: keptOpen && complete)
        } else {
            let client = client
            client.writeAndFlush(client.allocator.buffer(capacity: 0)).whenComplete { _ in client.close(promise: nil) }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) { client.flush() }

    func channelInactive(context: ChannelHandlerContext) {
        originClosed(context)
    }

    /// Upstreams allow half-closure (tunnels need it): here the origin's FIN arrives as an event.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event { originClosed(context) } else { context.fireUserInboundEventTriggered(event) }
    }

    /// The origin's close ends a close-delimited body; anywhere else it cuts the response short.
    private func originClosed(_ context: ChannelHandlerContext) {
        if var framing, framing.isCloseDelimited {
            framing.closed()
            self.framing = framing
        }
        end(context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context, "\(error)")
    }

    private func fail(_ context: ChannelHandlerContext, _ why: String) {
        record.failed("upstream response: \(why)")
        head = nil
        ended = true
        context.close(promise: nil)
        client.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { requestSide?.upstreamBecameWritable() }
    }

    func clientBecameWritable() {
        if pendingRead, let context {
            pendingRead = false
            context.read()
        }
    }

    func read(context: ChannelHandlerContext) {
        if client.isWritable { context.read() } else { pendingRead = true }
    }
}

@available(*, unavailable)
extension ResponseRelay: Sendable {}

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
                if keeping {
                    out += line
                    out += [0x0D, 0x0A]
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

/// Where a response body ends, from its head (RFC 9112 §6.3), tracked over the raw bytes so the
/// relay can end the client's response even when the origin ignores `Connection: close`.
struct BodyFraming {
    /// What the head said.
    struct Header {
        var contentLength: Int?
        var conflictingLengths = false
        var chunked = false
        var otherCoding = false

        mutating func add(name: String, value: String) {
            let trimmed = value.trimmingSpaces()
            if name == "content-length" {
                guard let length = Int(trimmed), length >= 0, contentLength == nil || contentLength == length else {
                    conflictingLengths = true
                    return
                }
                contentLength = length
            } else {
                let codings = trimmed.lowercased().split(separator: ",").map { String($0).trimmingSpaces() }
                chunked = codings.last == "chunked"
                otherCoding = !chunked
            }
        }
    }

    private enum State: Equatable {
        case length(remaining: Int)
        case chunkSize(digits: Int, value: Int, inExtension: Bool, sawCR: Bool)
        case chunkData(remaining: Int)
        case chunkDataEnd(needed: Int)
        case trailers(lineLength: Int, sawCR: Bool)
        case untilClose
        case done
    }

    private var state: State

    /// `status` of the final response, `requestWasHead` for HEAD requests.
    init(_ header: Header, status: Int, requestWasHead: Bool) {
        if requestWasHead || status == 204 || status == 304 || (100..<200).contains(status) {
            state = .done
        } else if header.chunked {
            state = .chunkSize(digits: 0, value: 0, inExtension: false, sawCR: false)
        } else if header.otherCoding || header.conflictingLengths {
            state = .untilClose  // no length the proxy can trust: the origin's close ends it
        } else if let length = header.contentLength {
            state = length == 0 ? .done : .length(remaining: length)
        } else {
            state = .untilClose
        }
    }

    var isComplete: Bool { state == .done }

    /// The body ends only when the origin closes: a connection carrying it cannot be reused.
    var isCloseDelimited: Bool { state == .untilClose }

    /// The origin closed: a close-delimited body is complete.
    mutating func closed() {
        if state == .untilClose { state = .done }
    }

    /// Follows `bytes` of body; returns how many of them belong to the body (the rest, if any,
    /// comes after its end and is not relayed). A malformed chunked body ends at the bad byte.
    mutating func consume(_ bytes: ByteBufferView) -> Int {
        var used = 0
        var index = bytes.startIndex
        while index < bytes.endIndex {
            switch state {
            case .done:
                return used
            case .untilClose:
                return bytes.count
            case .length(let remaining):
                let take = min(remaining, bytes.endIndex - index)
                index += take
                used += take
                state = remaining == take ? .done : .length(remaining: remaining - take)
            case .chunkData(let remaining):
                let take = min(remaining, bytes.endIndex - index)
                index += take
                used += take
                state = remaining == take ? .chunkDataEnd(needed: 2) : .chunkData(remaining: remaining - take)
            case .chunkDataEnd(let needed):
                let expected: UInt8 = needed == 2 ? 0x0D : 0x0A
                guard bytes[index] == expected else {
                    state = .done
                    return used
                }
                index += 1
                used += 1
                state = needed == 2 ? .chunkDataEnd(needed: 1) : .chunkSize(digits: 0, value: 0, inExtension: false, sawCR: false)
            case .chunkSize(let digits, let value, let inExtension, let sawCR):
                let byte = bytes[index]
                index += 1
                used += 1
                if sawCR {
                    guard byte == 0x0A, digits > 0 else {
                        state = .done
                        return used
                    }
                    state = value == 0 ? .trailers(lineLength: 0, sawCR: false) : .chunkData(remaining: value)
                } else if byte == 0x0D {
                    state = .chunkSize(digits: digits, value: value, inExtension: inExtension, sawCR: true)
                } else if inExtension || byte == UInt8(ascii: ";") {
                    state = .chunkSize(digits: digits, value: value, inExtension: true, sawCR: false)
                } else if let digit = Self.hexValue(byte), digits < 15 {
                    state = .chunkSize(digits: digits + 1, value: value << 4 | digit, inExtension: false, sawCR: false)
                } else if byte == 0x20 || byte == 0x09 {
                    state = .chunkSize(digits: digits, value: value, inExtension: true, sawCR: false)
                } else {
                    state = .done
                    return used
                }
            case .trailers(let lineLength, let sawCR):
                let byte = bytes[index]
                index += 1
                used += 1
                if sawCR, byte == 0x0A {
                    state = lineLength == 0 ? .done : .trailers(lineLength: 0, sawCR: false)
                } else if byte == 0x0D {
                    state = .trailers(lineLength: lineLength, sawCR: true)
                } else {
                    state = .trailers(lineLength: lineLength + 1, sawCR: false)
                }
            }
        }
        return used
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 0x30...0x39: return Int(byte - 0x30)
        case 0x41...0x46: return Int(byte - 0x41 + 10)
        case 0x61...0x66: return Int(byte - 0x61 + 10)
        default: return nil
        }
    }
}
