import CZlib

/// zlib's deflate, for tests that build compressed files and archives the scanner must look into.
public enum Deflate {
    public struct Failure: Error {}

    /// `bytes` compressed at level 9: a gzip file (`gzip`), else a raw deflate stream (a zip member's).
    public static func compress(_ bytes: [UInt8], gzip: Bool) throws -> [UInt8] {
        var stream = z_stream()
        guard deflateInit2_(&stream, 9, Z_DEFLATED, gzip ? 31 : -15, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw Failure()
        }
        defer { deflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(bytes.count))) + 64)
        var input = bytes
        let status = input.withUnsafeMutableBufferPointer { inp in
            out.withUnsafeMutableBufferPointer { o -> Int32 in
                stream.next_in = inp.baseAddress
                stream.avail_in = UInt32(inp.count)
                stream.next_out = o.baseAddress
                stream.avail_out = UInt32(o.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { throw Failure() }
        return Array(out[0..<Int(stream.total_out)])
    }
}
