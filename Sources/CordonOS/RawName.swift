public import CordonCore

#if canImport(Glibc)
    public import Glibc
#endif

/// One directory entry's name as the kernel has it: bytes, which need not be UTF-8. `text` is the
/// name when it is valid UTF-8 (and one path component); `display` is what humans and change sets
/// see, with every byte that is not valid UTF-8 written `\xHH`.
public struct RawName: Hashable, Comparable, Sendable {
    public let bytes: [UInt8]
    public let text: String
    /// Why the name cannot be used as a path component; nil when it can.
    public let problem: String?

    public init(bytes: [UInt8]) {
        self.bytes = bytes
        if let text = String(validating: bytes, as: UTF8.self) {
            self.text = text
            problem = nil
        } else {
            text = Self.escape(bytes)
            problem = "the name is not valid UTF-8 (shown escaped: \(text))"
        }
    }

    public init(text: String) {
        self.init(bytes: Array(text.utf8))
    }

    public var display: String { text }

    public static func < (a: RawName, b: RawName) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }

    /// `bytes` as text, each byte outside valid UTF-8 (and every backslash) written `\xHH`.
    public static func escape(_ bytes: [UInt8]) -> String {
        var result = ""
        var index = 0
        while index < bytes.count {
            let length = Self.sequenceLength(bytes, at: index)
            if length > 0, let scalar = String(validating: bytes[index..<index + length], as: UTF8.self) {
                result += scalar == "\\" ? "\\x5C" : scalar
                index += length
            } else {
                result += "\\x" + String(bytes[index], radix: 16, uppercase: true).leftPadded(to: 2)
                index += 1
            }
        }
        return result
    }

    /// The length of the UTF-8 sequence starting at `index`, by its lead byte (0: not a lead byte).
    private static func sequenceLength(_ bytes: [UInt8], at index: Int) -> Int {
        let lead = bytes[index]
        let length: Int
        switch lead {
        case 0x00...0x7F: length = 1
        case 0xC2...0xDF: length = 2
        case 0xE0...0xEF: length = 3
        case 0xF0...0xF4: length = 4
        default: return 0
        }
        return index + length <= bytes.count ? length : 0
    }

    public func withCName<T>(_ body: (UnsafePointer<CChar>) -> T) -> T {
        (bytes + [0]).withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) }
        }
    }

    public func stat(in dir: Int32) -> stat? {
        var st = Glibc.stat()
        return withCName { fstatat(dir, $0, &st, AT_SYMLINK_NOFOLLOW) } == 0 ? st : nil
    }

    public func open(in dir: Int32, _ flags: Int32) -> Int32 {
        withCName { openat(dir, $0, flags) }
    }

    /// The symlink's target as bytes; nil (errno set) when it cannot be read.
    public func readLink(in dir: Int32) -> [UInt8]? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let capacity = buffer.count - 1
        let n = withCName { name in readlinkat(dir, name, &buffer, capacity) }
        guard n >= 0 else { return nil }
        return buffer.prefix(n).map { UInt8(bitPattern: $0) }
    }

    /// Entry names of the open directory `fd` (read through a duplicate, so `fd` stays usable),
    /// without `.` and `..`, sorted by bytes.
    public static func list(_ fd: Int32, path: String) throws(CordonError) -> [RawName] {
        let copy = dup(fd)
        guard copy >= 0, let dir = fdopendir(copy) else {
            if copy >= 0 { close(copy) }
            throw SystemError.current("list", path).cordonError()
        }
        defer { closedir(dir) }
        rewinddir(dir)
        var names: [RawName] = []
        while let entry = readdir(dir) {
            let bytes = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: UInt8.self, capacity: 256) {
                    Array(UnsafeBufferPointer(start: $0, count: strnlen(UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self), 256)))
                }
            }
            if bytes == [0x2E] || bytes == [0x2E, 0x2E] { continue }
            names.append(RawName(bytes: bytes))
        }
        return names.sorted()
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
