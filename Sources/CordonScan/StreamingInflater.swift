import CZlib

/// A compressed request body (`Content-Encoding: gzip` or `deflate`) inflated as it streams, a
/// piece at a time, never more in memory than one output piece, and never more in all than the
/// caller's limit (a small body must not expand into gigabytes to scan).
final class StreamingInflater {
    enum Outcome: Equatable {
        case ok
        /// More than the limit would come out: inflating stopped there.
        case overLimit
        /// Not a valid stream; what zlib said.
        case corrupt(String)
    }

    static let piece = 16 * 1024
    /// The z_stream lives at a fixed address: zlib keeps a pointer back to it.
    private let stream: UnsafeMutablePointer<z_stream>
    private let ready: Bool
    private var output = [UInt8](repeating: 0, count: StreamingInflater.piece)
    private(set) var consumed = 0
    private(set) var produced = 0
    /// The end of a gzip member was reached: what follows must be another member.
    private var ended = false

    init(gzip: Bool) {
        stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // gzip: 15 + 16 (the gzip wrapper); deflate: 15 + 32 (a zlib header, auto-detected).
        ready = inflateInit2_(stream, gzip ? 15 + 16 : 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK
    }

    deinit {
        if ready { inflateEnd(stream) }
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Inflates `input`, handing each output piece to `emit`, and after each step where zlib has
    /// given out all it can from what it took in, `settled(consumed, produced)`: the compressed
    /// bytes up to `consumed` decode to no more than `produced` bytes.
    func inflate(
        _ input: UnsafeRawBufferPointer, limit: Int, emit: (UnsafeRawBufferPointer) -> Void, settled: (_ consumed: Int, _ produced: Int) -> Void
    ) -> Outcome {
        guard ready else { return .corrupt("zlib could not start") }
        guard let base = input.baseAddress?.assumingMemoryBound(to: UInt8.self), !input.isEmpty else { return .ok }
        var offset = 0
        var more = true
        while more {
            if ended {
                if offset >= input.count { break }
                guard inflateReset(stream) == Z_OK else { return .corrupt("zlib could not restart") }
                ended = false
            }
            stream.pointee.next_in = UnsafeMutablePointer(mutating: base + offset)
            stream.pointee.avail_in = UInt32(clamping: input.count - offset)
            let before = Int(stream.pointee.avail_in)
            let status = output.withUnsafeMutableBufferPointer { out -> Int32 in
                stream.pointee.next_out = out.baseAddress
                stream.pointee.avail_out = UInt32(Self.piece)
                return CZlib.inflate(stream, Z_NO_FLUSH)
            }
            let took = before - Int(stream.pointee.avail_in)
            offset += took
            consumed += took
            let made = Self.piece - Int(stream.pointee.avail_out)
            if produced + made > limit { return .overLimit }
            produced += made
            if made > 0 { output.withUnsafeBytes { emit(UnsafeRawBufferPointer(rebasing: $0[0..<made])) } }
            switch status {
            case Z_STREAM_END:
                ended = true
                settled(consumed, produced)
            case Z_OK, Z_BUF_ERROR:
                if stream.pointee.avail_out > 0 { settled(consumed, produced) }
                if took == 0 && made == 0 && offset < input.count { return .corrupt("zlib made no progress") }
            default:
                return .corrupt(stream.pointee.msg.map { String(cString: $0) } ?? "error \(status)")
            }
            // Output left in zlib (the piece filled up) is drawn before the call returns.
            more = offset < input.count || stream.pointee.avail_out == 0
        }
        return .ok
    }
}
