public import CordonCore

#if canImport(Glibc)
    import Glibc
#endif

/// Whole-file reads for comparing and scanning.
public enum FileContents {
    /// Reads a regular file without following a symlink in the last component.
    public static func read(_ path: String, limit: UInt64 = .max) throws(CordonError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError.current("open", path).cordonError() }
        defer { close(fd) }
        return try read(descriptor: fd, path: path, limit: limit)
    }

    /// Reads an open file from its current offset; `path` names it in errors.
    public static func read(descriptor fd: Int32, path: String, limit: UInt64 = .max) throws(CordonError) -> [UInt8] {
        // One read into an array sized by fstat plus one byte (the scanner's hot path): a short read
        // is the end of the file. A file that grows while being read continues in chunks.
        var st = stat()
        let size = fstat(fd, &st) == 0 && st.st_size > 0 ? UInt64(st.st_size) : 0
        let hint = Int(min(size, limit, 1 << 30))
        let capacity = UInt64(hint) < limit ? hint + 1 : hint
        var failed = false
        var result = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
            let n = readFull(fd, UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[0..<capacity])))
            failed = n < 0
            initialized = max(n, 0)
        }
        if failed { throw SystemError.current("read", path).cordonError() }
        if result.count < capacity || UInt64(result.count) >= limit { return result }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while UInt64(result.count) < limit {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError.current("read", path).cordonError()
            }
            if n == 0 { break }
            result.append(contentsOf: chunk.prefix(n))
        }
        return result
    }

    /// True when both regular files have the same bytes.
    public static func equal(_ a: String, _ b: String) throws(CordonError) -> Bool {
        let fa = open(a, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fa >= 0 else { throw SystemError.current("open", a).cordonError() }
        defer { close(fa) }
        let fb = open(b, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fb >= 0 else { throw SystemError.current("open", b).cordonError() }
        defer { close(fb) }
        guard let same = equal(descriptors: fa, fb) else {
            throw SystemError.current("compare \(a) and", b).cordonError()
        }
        return same
    }

    /// True when the two open files have the same bytes from their current offsets; nil when a read fails.
    public static func equal(descriptors fa: Int32, _ fb: Int32) -> Bool? {
        var bufA = [UInt8](repeating: 0, count: 1 << 16)
        var bufB = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let na = bufA.withUnsafeMutableBytes { readFull(fa, $0) }
            let nb = bufB.withUnsafeMutableBytes { readFull(fb, $0) }
            if na < 0 || nb < 0 { return nil }
            if na != nb { return false }
            if na == 0 { return true }
            if bufA[0..<na] != bufB[0..<nb] { return false }
        }
    }

    private static func readFull(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) -> Int {
        var total = 0
        while total < buffer.count {
            let n = Glibc.read(fd, buffer.baseAddress! + total, buffer.count - total)
            if n < 0 {
                if errno == EINTR { continue }
                return -1
            }
            if n == 0 { break }
            total += n
        }
        return total
    }

    /// The target of a symlink.
    public static func readLink(_ path: String) throws(CordonError) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n >= 0 else { throw SystemError.current("read link", path).cordonError() }
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
