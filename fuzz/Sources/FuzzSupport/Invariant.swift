// What every fuzz target shares: turning the input into a String, and failing loudly (abort,
// which libFuzzer reports as a crash with the input saved) when an invariant does not hold.
#if canImport(Glibc)
    import Glibc
#endif

/// Aborts with `message` on stderr: libFuzzer saves the input as a crash reproducer.
public func invariant(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() {
        let text = "INVARIANT FAILED: \(message())\n"
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
        abort()
    }
}

/// The fuzz input as bytes.
public func bytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}

/// The fuzz input as a String (invalid UTF-8 repaired, as a file read with String(decoding:) is).
public func text(_ data: UnsafePointer<UInt8>?, _ size: Int) -> String {
    String(decoding: bytes(data, size), as: UTF8.self)
}
