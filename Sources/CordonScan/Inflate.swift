import CZlib

/// Deflate streams decompressed with zlib, never past a limit the caller sets: the scanner's
/// look into gzip files and zip members must not expand a bomb without bound.
enum Inflate {
    enum Wrapper {
        /// gzip members (one after another, as `gzip` concatenates them).
        case gzip
        /// Bare deflate data (a zip member).
        case raw
    }

    enum Outcome {
        /// All of it, within the limit.
        case complete([UInt8])
        /// More than `limit` bytes would come out; decompression stopped there.
        case overLimit
        /// Not a valid stream (or cut short); what zlib said.
        case corrupt(String)
    }

    static func inflate(_ input: UnsafeBufferPointer<UInt8>, wrapper: Wrapper, limit: Int) -> Outcome {
        guard let base = input.baseAddress, !input.isEmpty else { return .corrupt("empty stream") }
        var stream = z_stream()
        let windowBits: Int32 = wrapper == .gzip ? 15 + 16 : -15
        guard inflateInit2_(&stream, windowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            return .corrupt("zlib could not start")
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        let chunk = 64 * 1024
        var buffer = [UInt8](repeating: 0, count: chunk)
        var consumed = 0
        while true {
            stream.next_in = UnsafeMutablePointer(mutating: base + consumed)
            stream.avail_in = UInt32(clamping: input.count - consumed)
            let availableBefore = Int(stream.avail_in)
            let status = buffer.withUnsafeMutableBufferPointer { out -> Int32 in
                stream.next_out = out.baseAddress
                stream.avail_out = UInt32(chunk)
                return CZlib.inflate(&stream, Z_NO_FLUSH)
            }
            consumed += availableBefore - Int(stream.avail_in)
            let produced = chunk - Int(stream.avail_out)
            if output.count + produced > limit { return .overLimit }
            output += buffer[0..<produced]
            switch status {
            case Z_STREAM_END:
                // Another gzip member may follow; trailing zeros (tape padding) end the file.
                let rest = UnsafeBufferPointer(rebasing: input[consumed...])
                if wrapper == .gzip, rest.count >= 2, rest[0] == 0x1f, rest[1] == 0x8b {
                    guard inflateReset(&stream) == Z_OK else { return .corrupt("zlib could not restart") }
                    continue
                }
                if wrapper == .gzip, rest.contains(where: { $0 != 0 }) { return .corrupt("\(rest.count) bytes of trailing data after the gzip stream") }
                return .complete(output)
            case Z_OK:
                if produced == 0 && consumed >= input.count { return .corrupt("the stream is cut short") }
                continue
            case Z_BUF_ERROR:
                if produced == 0 { return .corrupt("the stream is cut short") }
                continue
            default:
                let message = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                return .corrupt(message)
            }
        }
    }
}
