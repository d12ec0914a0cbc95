public import CordonCore
import CordonOS

#if canImport(Glibc)
    import Glibc
#endif

/// Reads an audit log line by line from an offset, in bounded chunks (a log can be large; a line
/// is at most `AuditChain.tailLimit` bytes, longer ones are reported as they are found).
public struct AuditLines: ~Copyable {
    /// One line: its bytes without the newline, and whether it had one (a line cut short has not).
    public struct Line: Sendable {
        public var bytes: [UInt8]
        public var terminated: Bool
    }

    private let descriptor: FileDescriptor
    private var buffer: [UInt8] = []
    private var start = 0
    /// Bytes of the file consumed as whole lines (where `--follow` goes on from).
    public private(set) var offset: Int

    public init(path: String, offset: Int = 0) throws(CordonError) {
        descriptor = try Self.open(path, at: offset)
        self.offset = offset
    }

    private static func open(_ path: String, at offset: Int) throws(CordonError) -> FileDescriptor {
        let fd: FileDescriptor
        do throws(SystemError) { fd = try FileDescriptor.open(path, O_RDONLY | O_NOFOLLOW) } catch {
            throw CordonError(.io, "cannot read the audit log \(path)", cause: error.description)
        }
        guard lseek(fd.raw, off_t(offset), SEEK_SET) >= 0 else {
            throw CordonError(.io, "cannot read the audit log \(path)", cause: String(cString: strerror(errno)))
        }
        return fd
    }

    /// The next whole line; nil at the end of what is written now. With `partial`, a last line
    /// without a newline is returned too (the verifier reports it); without, it waits in the
    /// buffer for the rest (`--follow`).
    public mutating func next(partial: Bool) throws(CordonError) -> Line? {
        while true {
            if let newline = buffer[start...].firstIndex(of: 0x0A) {
                let line = Array(buffer[start..<newline])
                offset += newline + 1 - start
                start = newline + 1
                return Line(bytes: line, terminated: true)
            }
            if buffer.count - start > AuditChain.tailLimit {
                let line = Array(buffer[start...])
                offset += line.count
                buffer = []
                start = 0
                return Line(bytes: line, terminated: false)
            }
            let chunk: [UInt8]
            do throws(SystemError) { chunk = try descriptor.read(upTo: 256 * 1024) } catch {
                throw CordonError(.io, "cannot read the audit log", cause: error.description)
            }
            if chunk.isEmpty {
                guard partial, start < buffer.count else { return nil }
                let line = Array(buffer[start...])
                offset += line.count
                buffer = []
                start = 0
                return Line(bytes: line, terminated: false)
            }
            buffer.removeFirst(start)
            start = 0
            buffer += chunk
        }
    }
}
