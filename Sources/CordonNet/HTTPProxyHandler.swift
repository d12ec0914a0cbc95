import NIOCore
import NIOHTTP1

/// HTTP/1.1 proxy front end: CONNECT tunnels (403 before the tunnel when refused, then the SNI
/// gate) and absolute-form forward requests (Host must match the target; bodies streamed).
/// A forward connection carries one request, answered with `Connection: close`, so every request
/// is decided on its own.
final class HTTPProxyHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case idle
        /// CONNECT decided or dialling; `sawEnd` once the request is complete.
        case connecting(host: Host, sawEnd: Bool, upstream: (any Channel, Decision)?)
        /// Forward request waiting for its upstream; parts received meanwhile are held.
        case forwarding(pending: [HTTPServerRequestPart])
        case streaming(upstream: any Channel)
        case done
    }

    private let proxy: EgressProxy
    private let record: FlowRecord
    private var state = State.idle
    private var gate: TunnelGate?
    private var pendingRead = false
    /// Set at the forward request's end: what follows (a pipelined request, its body) is never
    /// sent upstream, where it would be a request no one decided.
    private var requestEnded = false
    private weak var relay: ResponseRelay?
    private var context: ChannelHandlerContext?

    init(proxy: EgressProxy, record: FlowRecord) {
        self.proxy = proxy
        self.record = record
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch (state, part) {
        case (.idle, .head(let head)):
            if head.method == .CONNECT { startConnect(context: context, head: head) } else { startForward(context: context, head: head) }
        case (.connecting(let host, _, let upstream), .end):
            state = .connecting(host: host, sawEnd: true, upstream: upstream)
            // Bytes after the CONNECT head are tunnel bytes: the gate before us collects them.
            let gate = TunnelGate(proxy: proxy, record: record, expected: host)
            self.gate = gate
            do {
                try context.pipeline.syncOperations.addHandler(gate, position: .before(self))
                let decoder = try context.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
                context.pipeline.syncOperations.removeHandler(decoder, promise: nil)
            } catch {
                context.close(promise: nil)
                return
            }
            tunnelIfReady(context: context)
        case (.forwarding(var pending), _):
            guard !requestEnded else { break }
            if case .end = part { requestEnded = true }
            pending.append(part)
            state = .forwarding(pending: pending)
        case (.streaming(let upstream), _):
            guard !requestEnded else { break }
            if case .end = part { requestEnded = true }
            send(part, to: upstream)
        default:
            break  // a second request on this connection: ignored; we close after the first response
        }
    }

    // MARK: CONNECT

    private func startConnect(context: ChannelHandlerContext, head: HTTPRequestHead) {
        guard let (hostText, port) = parseAuthority(head.uri), let host = Host(hostText) else {
            record.target(method: "CONNECT", host: head.uri, port: 0)
            record.decided(Decision(verdict: .deny, host: head.uri, port: 0, rule: "bad-request", reason: "CONNECT target is not host:port"))
            finish(context: context, EgressProxy.plainResponse(.badRequest, "CONNECT needs host:port, got \(head.uri)"))
            return
        }
        record.target(method: "CONNECT", host: host.description, port: port)
        state = .connecting(host: host, sawEnd: false, upstream: nil)
        proxy.open(host: hostText, port: port, on: context.eventLoop) { [self] opened in
            guard let context = self.context, case .connecting(let host, let sawEnd, _) = state else {
                if case .connected(_, let channel, _) = opened { channel.close(promise: nil) }
                return
            }
            guard let (decision, channel) = connectedOrFinish(opened, port: port, context: context) else { return }
            state = .connecting(host: host, sawEnd: sawEnd, upstream: (channel, decision))
            tunnelIfReady(context: context)
        }
    }

    /// Runs once the upstream is connected and the request has ended: 200, then the gate judges.
    private func tunnelIfReady(context: ChannelHandlerContext) {
        guard case .connecting(_, true, let upstream?) = state, let gate, let gateContext = try? context.pipeline.syncOperations.context(handler: gate) else {
            return
        }
        state = .done
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: "HTTP/1.1 200 Connection Established\r\n\r\n")), promise: nil)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        gate.arm(context: gateContext, upstream: upstream.0, decision: upstream.1)
    }

    // MARK: Forward proxying

    private func startForward(context: ChannelHandlerContext, head: HTTPRequestHead) {
        guard let target = ForwardTarget(uri: head.uri) else {
            record.target(method: head.method.rawValue, host: head.uri, port: 0)
            record.decided(Decision(verdict: .deny, host: head.uri, port: 0, rule: "bad-request", reason: "not an absolute http:// URI"))
            finish(context: context, EgressProxy.plainResponse(.badRequest, "a proxy request needs an absolute http:// URI (use CONNECT for https), got \(head.uri)"))
            return
        }
        record.target(method: head.method.rawValue, host: target.host, port: target.port)
        let hostHeaders = head.headers["host"]
        if hostHeaders.count > 1 || hostHeaders.first.map({ !target.matches(hostHeader: $0) }) ?? false {
            let decision = Decision(
                verdict: .deny, host: Host(target.host)?.description ?? target.host, port: target.port, rule: "host-mismatch",
                reason: "Host header \(hostHeaders.joined(separator: ",")) differs from the request target \(target.host)")
            record.decided(decision)
            finish(context: context, proxy.refusalResponse(decision))
            return
        }
        state = .forwarding(pending: [])
        proxy.open(host: target.host, port: target.port, on: context.eventLoop) { [self] opened in
            guard let context = self.context, case .forwarding(let pending) = state else {
                if case .connected(_, let channel, _) = opened { channel.close(promise: nil) }
                return
            }
            guard let (_, upstream) = connectedOrFinish(opened, port: target.port, context: context) else { return }
            do {
                let relay = ResponseRelay(client: context.channel, record: record, requestSide: self, requestWasHead: head.method == .HEAD)
                try upstream.pipeline.syncOperations.addHandlers(HTTPRequestEncoder(), relay)
                self.relay = relay
            } catch {
                upstream.close(promise: nil)
                context.close(promise: nil)
                return
            }
            state = .streaming(upstream: upstream)
            var outgoing = head
            outgoing.uri = target.pathAndQuery
            for hop in ["proxy-connection", "proxy-authorization", "connection", "keep-alive"] { outgoing.headers.remove(name: hop) }
            if !outgoing.headers.contains(name: "host") { outgoing.headers.add(name: "Host", value: target.authority) }
            outgoing.headers.add(name: "Connection", value: "close")
            upstream.write(HTTPClientRequestPart.head(outgoing), promise: nil)
            for part in pending { send(part, to: upstream) }
            upstream.flush()
            upstream.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in upstream.close(promise: nil) }
            if pendingRead {
                pendingRead = false
                context.read()
            }
        }
    }

    /// Records the dial outcome; answers a refusal (403) or a dial failure (502) and returns nil,
    /// or returns the connected upstream. Shared by CONNECT and forward requests.
    private func connectedOrFinish(_ opened: EgressProxy.Opened, port: Int, context: ChannelHandlerContext) -> (Decision, any Channel)? {
        switch opened {
        case .refused(let decision):
            record.decided(decision)
            finish(context: context, proxy.refusalResponse(decision))
            return nil
        case .failed(let decision, let error):
            record.decided(decision)
            record.failed(error.description)
            finish(context: context, EgressProxy.plainResponse(.badGateway, "cannot reach \(decision.host):\(port): \(error)"))
            return nil
        case .connected(let decision, let channel, let address):
            record.decided(decision)
            record.connected(to: address.description)
            return (decision, channel)
        }
    }

    private func send(_ part: HTTPServerRequestPart, to upstream: any Channel) {
        switch part {
        case .head: break
        case .body(let buffer):
            record.countUp(buffer.readableBytes)
            upstream.writeAndFlush(HTTPClientRequestPart.body(.byteBuffer(buffer)), promise: nil)
        case .end(let trailers):
            upstream.writeAndFlush(HTTPClientRequestPart.end(trailers), promise: nil)
        }
    }

    /// Called by the relay when the upstream can take more request body again.
    func upstreamBecameWritable() {
        if pendingRead, let context {
            pendingRead = false
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { relay?.clientBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        switch state {
        case .forwarding:
            pendingRead = true
        case .streaming(let upstream) where !upstream.isWritable:
            pendingRead = true
        default:
            context.read()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        switch state {
        case .connecting(_, _, let upstream?): upstream.0.close(promise: nil)
        case .streaming(let upstream): upstream.close(promise: nil)
        default: break
        }
        state = .done
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case .idle = state {
            record.failed("bad request: \(error)")
            finish(context: context, EgressProxy.plainResponse(.badRequest, "malformed request"))
        } else {
            context.close(promise: nil)
        }
    }

    private func finish(context: ChannelHandlerContext, _ response: String) {
        state = .done
        context.writeAndClose(response)
    }
}

@available(*, unavailable)
extension HTTPProxyHandler: Sendable {}

/// Upstream side of a forward request: the response goes to the client as the origin sent it,
/// except its head(s), rewritten by `ResponseHead` (hop-by-hop headers out, `Connection: close`
/// in: a forward connection carries one request, so the client must not reuse it). The request
/// went upstream with `Connection: close`, so the origin's close ends the response; the body is
/// relayed byte for byte (no decoding and re-encoding), reads held while the client is full.
final class ResponseRelay: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private let client: any Channel
    private let record: FlowRecord
    private weak var requestSide: HTTPProxyHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private let requestWasHead: Bool
    /// Bytes of a response head not complete yet; nil once the final head went out.
    private var head: [UInt8]? = []
    /// Where the body ends, once the final head is known.
    private var framing: BodyFraming?
    private var ended = false

    init(client: any Channel, record: FlowRecord, requestSide: HTTPProxyHandler, requestWasHead: Bool) {
        self.client = client
        self.record = record
        self.requestSide = requestSide
        self.requestWasHead = requestWasHead
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
            guard let rewritten = ResponseHead.rewrite(pending[..<end]) else {
                fail(context, "malformed response head")
                return
            }
            client.write(client.allocator.buffer(bytes: rewritten.bytes), promise: nil)
            pending.removeFirst(end + 4)
            if rewritten.isFinal {
                head = nil
                framing = rewritten.status == 101
                    ? BodyFraming(.init(), status: 200, requestWasHead: false)  // switched: until close
                    : BodyFraming(rewritten.framing, status: rewritten.status, requestWasHead: requestWasHead)
                relayBody(client.allocator.buffer(bytes: pending), context: context)
                return
            }
        }
        guard pending.count <= FirstBytes.limit else {
            fail(context, "response head larger than \(FirstBytes.limit) bytes")
            return
        }
        head = pending
    }

    /// Body bytes up to the body's end; at the end the response is complete: the client gets
    /// it all, then both connections close (whatever the origin sends after it is dropped).
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

    private func end(_ context: ChannelHandlerContext) {
        guard !ended else { return }
        ended = true
        let client = client
        client.writeAndFlush(client.allocator.buffer(capacity: 0)).whenComplete { _ in client.close(promise: nil) }
        context.close(promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) { client.flush() }

    func channelInactive(context: ChannelHandlerContext) {
        // The origin's close ends a close-delimited body; anywhere else it cuts the response
        // short, and the client sees that by the body's own framing (no head at all: just the close).
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

/// A response head for the client of a forward request: the status line and headers as the
/// origin sent them, less the hop-by-hop `Connection`, `Keep-Alive` and `Proxy-Connection`
/// (with their continuation lines), plus `Connection: close` on a final response. Pure.
enum ResponseHead {
    static let hopByHop: Set<String> = ["connection", "keep-alive", "proxy-connection"]

    /// `head`: the bytes before the blank line. nil when it is not an HTTP/1 status line followed
    /// by `name: value` lines. `isFinal`: not a 1xx interim response (101 ends the head(s) too).
    static func rewrite(_ head: ArraySlice<UInt8>) -> (bytes: [UInt8], isFinal: Bool, status: Int, framing: BodyFraming.Header)? {
        let lines = head.split(separator: 0x0A, omittingEmptySubsequences: false).map { line in
            line.last == 0x0D ? line.dropLast() : line
        }
        guard let statusLine = lines.first, statusLine.starts(with: Array("HTTP/1.".utf8)), statusLine.count >= 12,
              statusLine[statusLine.startIndex + 8] == 0x20
        else { return nil }
        let code = statusLine[(statusLine.startIndex + 9)..<(statusLine.startIndex + 12)]
        guard code.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        let status = code.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        var out = Array(statusLine) + [0x0D, 0x0A]
        out.reserveCapacity(head.count + 24)
        var keeping = true
        var framing = BodyFraming.Header()
        for line in lines.dropFirst() {
            if let first = line.first, first == 0x20 || first == 0x09 {
                if keeping { out += line + [0x0D, 0x0A] }  // obs-fold: belongs to the line above
                continue
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex else { return nil }
            let name = String(decoding: line[..<colon].map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 }, as: UTF8.self)
            keeping = !hopByHop.contains(name)
            if keeping { out += line + [0x0D, 0x0A] }
            if name == "content-length" || name == "transfer-encoding" {
                framing.add(name: name, value: String(decoding: line[line.index(after: colon)...], as: UTF8.self))
            }
        }
        let isFinal = status >= 200 || status == 101
        if status >= 200 { out += Array("Connection: close\r\n".utf8) }
        out += [0x0D, 0x0A]
        return (out, isFinal, status, framing)
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

/// The parts of an absolute-form `http://` request target.
struct ForwardTarget: Equatable {
    var host: String
    var port: Int
    var authority: String
    var pathAndQuery: String

    init?(uri: String) {
        guard uri.lowercased().hasPrefix("http://") else { return nil }
        let rest = uri.dropFirst(7)
        let end = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = String(rest[..<end])
        guard !authority.isEmpty, !authority.contains("@") else { return nil }
        var path = String(rest[end...])
        if let hash = path.firstIndex(of: "#") { path = String(path[..<hash]) }
        if path.isEmpty || path.hasPrefix("?") { path = "/" + path }
        if let parsed = parseAuthority(authority) {
            (host, port) = parsed
        } else if !authority.hasSuffix(":"), FirstBytes.stripPort(authority) == authority {
            (host, port) = (authority, 80)
        } else {
            return nil
        }
        self.authority = authority
        self.pathAndQuery = path
    }

    /// Same host (normalised) and same port (80 when the header names none).
    func matches(hostHeader: String) -> Bool {
        let headerHost = FirstBytes.stripPort(hostHeader.trimmingSpaces())
        let headerPort = parseAuthority(hostHeader.trimmingSpaces())?.port ?? 80
        guard let a = Host(headerHost), let b = Host(host) else { return false }
        return a == b && headerPort == port
    }
}
