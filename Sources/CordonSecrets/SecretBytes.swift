public import CordonCore
import CordonOS

/// A secret value held as bytes, never as a `String` (whose copies Swift does not let us find and
/// zero): in `LockedMemory` (kept out of core dumps, locked where permitted), zeroed when the
/// value is dropped. Its description never shows the bytes.
public final class SecretBytes: CustomStringConvertible {
    /// The longest value cordon keeps (a key, a token, a small JSON credential).
    public static let maximumCount = 64 * 1024

    private let memory: LockedMemory
    public private(set) var count: Int = 0

    /// An empty value with room for `capacity` bytes.
    public init(capacity: Int = 4096) throws(CordonError) {
        do {
            memory = try LockedMemory(bytes: min(max(capacity, 1), Self.maximumCount))
        } catch {
            throw error.cordonError(.systemCall, "cannot allocate memory kept out of core dumps for a secret value")
        }
    }

    /// A copy of `bytes` (the caller zeroes its own buffer).
    public convenience init(copying bytes: UnsafeRawBufferPointer) throws(CordonError) {
        try self.init(capacity: bytes.count)
        for byte in bytes { try append(byte) }
    }

    public var isEmpty: Bool { count == 0 }

    /// Everything `fd` holds up to its end (a pipe, a file), refused past `maximumCount` bytes.
    public static func readAll(from fd: Int32, what: String) throws(CordonError) -> SecretBytes {
        let value = try SecretBytes(capacity: maximumCount)
        while true {
            let room = value.memory.capacity - value.count
            guard room > 0 else { throw CordonError(.invalidArgument, "\(what) is longer than \(maximumCount) bytes") }
            let got: Int
            do { got = try value.memory.read(from: fd, at: value.count, count: room) } catch { throw error.cordonError(.io, "cannot read \(what)") }
            if got == 0 { return value }
            value.count += got
        }
    }

    /// One line from `fd` (a terminal), read a byte at a time so nothing past the line end is
    /// consumed; the line end is not kept. nil at end of input before any byte.
    public static func readLine(from fd: Int32, what: String) throws(CordonError) -> SecretBytes? {
        let value = try SecretBytes(capacity: maximumCount)
        while true {
            guard value.count < value.memory.capacity else { throw CordonError(.invalidArgument, "\(what) is longer than \(maximumCount) bytes") }
            let got: Int
            do { got = try value.memory.read(from: fd, at: value.count, count: 1) } catch { throw error.cordonError(.io, "cannot read \(what)") }
            if got == 0 { return value.isEmpty ? nil : value }
            if value[value.count] == 0x0A {
                value.memory.base.storeBytes(of: 0, toByteOffset: value.count, as: UInt8.self)
                value.removeTrailingNewline()
                return value
            }
            value.count += 1
        }
    }

    /// Adds one byte; past `maximumCount` the value is refused rather than truncated.
    public func append(_ byte: UInt8) throws(CordonError) {
        guard count < memory.capacity else {
            throw CordonError(.invalidArgument, "the secret value is longer than \(min(memory.capacity, Self.maximumCount)) bytes")
        }
        memory.base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    /// Drops one trailing "\n" (and a "\r" before it): the line end `--stdin` input carries.
    public func removeTrailingNewline() {
        if count > 0, self[count - 1] == 0x0A { count -= 1 }
        if count > 0, self[count - 1] == 0x0D { count -= 1 }
        memory.base.advanced(by: count).initializeMemory(as: UInt8.self, repeating: 0, count: memory.capacity - count)
    }

    /// The bytes, writable in place, valid only inside `body`.
    public func withMutableBytes<R, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeMutableRawBufferPointer(start: memory.base, count: count))
    }

    /// Writes the value to `fd` straight from its memory.
    public func write(to fd: Int32, what: String) throws(CordonError) {
        do { try memory.write(to: fd, count: count) } catch { throw error.cordonError(.io, "cannot write \(what)") }
    }

    public subscript(index: Int) -> UInt8 { memory.base.load(fromByteOffset: index, as: UInt8.self) }

    /// The bytes, valid only inside `body` (never escape or copy them into a `String`).
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: memory.base, count: count))
    }

    public func hasPrefix(_ prefix: String) -> Bool {
        let bytes = Array(prefix.utf8)
        guard bytes.count <= count else { return false }
        return bytes.indices.allSatisfy { self[$0] == bytes[$0] }
    }

    /// Whether both hold the same bytes; compares every byte whatever the first difference.
    public func matches(_ other: SecretBytes) -> Bool {
        guard count == other.count else { return false }
        var difference: UInt8 = 0
        for index in 0..<count { difference |= self[index] ^ other[index] }
        return difference == 0
    }

    public var description: String { "SecretBytes(\(count) bytes, redacted)" }
}
