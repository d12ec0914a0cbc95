import CordonPolicy
import NIOCore
import NIOHTTP1

/// A forwarded request as bytes for its upstream connection: the head in one buffer, the body as
/// the request decoder hands it over, chunked again when the request came chunked (the decoder
/// removes the chunk framing). This is the whole of what NIO's request encoder did here, without
/// a handler on every upstream pipeline or a message per part.
struct UpstreamRequest {
    /// The body goes out in chunks.
    let chunked: Bool

    init(chunked: Bool = false) { self.chunked = chunked }

    /// `head` is the outgoing head (origin-form target, hop-by-hop headers already dealt with).
    init(_ head: HTTPRequestHead) {
        chunked = HTTPProxyHandler.listContains(head.headers["transfer-encoding"], token: "chunked")
    }

    /// The request line and headers, ending in the blank line. A chunked request loses any
    /// `Content-Length` (a request must not carry both; the decoder framed the body by chunks).
    func head(_ head: HTTPRequestHead, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 256)
        buffer.writeString(head.method.rawValue)
        buffer.writeStaticString(" ")
        buffer.writeString(head.uri)
        buffer.writeStaticString(head.version.minor == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n")
        for (name, value) in head.headers {
            if chunked, name.utf8.count == 14, name.lowercased() == "content-length" { continue }
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("\r\n")
        return buffer
    }

    /// Writes body bytes (not flushed).
    func writeBody(_ body: ByteBuffer, to channel: any Channel) {
        guard chunked else { return channel.write(body, promise: nil) }
        guard body.readableBytes > 0 else { return }
        channel.write(channel.allocator.buffer(string: String(body.readableBytes, radix: 16) + "\r\n"), promise: nil)
        channel.write(body, promise: nil)
        channel.write(channel.allocator.buffer(staticString: "\r\n"), promise: nil)
    }

    /// Writes the body's end: the last chunk and the trailers of a chunked body (not flushed).
    func writeEnd(trailers: HTTPHeaders?, to channel: any Channel) {
        guard chunked else { return }
        var buffer = channel.allocator.buffer(capacity: 64)
        buffer.writeStaticString("0\r\n")
        for (name, value) in trailers ?? [:] {
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("\r\n")
        channel.write(buffer, promise: nil)
    }
}
