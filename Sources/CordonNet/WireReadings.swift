import NIOCore

/// The proxy's readings of response bytes, through the same internal parsers it relays with
/// (`ResponseHead`, `BodyFraming`): pure entry points, so the fuzz targets in fuzz/ ask what the
/// proxy would decide without a channel.
public enum WireReadings {
    /// What `ResponseHead` read from a response head.
    public struct ResponseHeadReading: Equatable, Sendable {
        public var status: Int
        public var isFinal: Bool
        public var originCloses: Bool
        public var contentLength: Int?
        public var conflictingLengths: Bool
        public var chunked: Bool
        public var otherCoding: Bool
        public var contentType: String?
        public var contentEncoding: String?
        /// The head the client gets (with `Connection: close` on a final response), blank line included.
        public var relayed: [UInt8]
    }

    /// `head`: the bytes before the blank line. nil when the proxy refuses it as a response head.
    public static func responseHead(_ head: [UInt8]) -> ResponseHeadReading? {
        guard let parsed = ResponseHead(head[...]) else { return nil }
        return ResponseHeadReading(
            status: parsed.status, isFinal: parsed.isFinal, originCloses: parsed.originCloses,
            contentLength: parsed.framing.contentLength, conflictingLengths: parsed.framing.conflictingLengths,
            chunked: parsed.framing.chunked, otherCoding: parsed.framing.otherCoding,
            contentType: parsed.contentType, contentEncoding: parsed.contentEncoding, relayed: parsed.bytes(connection: "close"))
    }

    /// Where a body ends.
    public struct BodyReading: Equatable, Sendable {
        /// How many of the bytes given belong to the body.
        public var used: Int
        public var complete: Bool
        /// Only the origin's close ends it.
        public var closeDelimited: Bool
    }

    /// Follows `pieces` (the body as it arrives, piece by piece) after a response head `head`, as
    /// the relay does; stops at the first byte past the body's end. nil when `head` is not a head.
    public static func body(head: [UInt8], requestWasHead: Bool = false, pieces: [[UInt8]]) -> BodyReading? {
        guard let parsed = ResponseHead(head[...]) else { return nil }
        var framing = BodyFraming(parsed.framing, status: parsed.status, requestWasHead: requestWasHead)
        var used = 0
        for piece in pieces {
            if framing.isComplete { break }
            let buffer = ByteBuffer(bytes: piece)
            let taken = framing.consume(buffer.readableBytesView)
            used += taken
            if taken < piece.count { break }
        }
        return BodyReading(used: used, complete: framing.isComplete, closeDelimited: framing.isCloseDelimited)
    }
}
