#if canImport(Glibc)
    import Glibc
#endif

/// A directory made once per fuzz process (under $TMPDIR or /tmp) for targets that need files.
public let fuzzDirectory: String = {
    let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
    var template = Array("\(base)/cordon-fuzz.XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }
    guard let made else {
        invariant(false, "cannot make a temporary directory under \(base)")
        return base
    }
    return String(cString: made)
}()

/// Writes `bytes` to `path` (replacing it); aborts when it cannot.
public func writeFile(_ path: String, _ bytes: [UInt8]) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    invariant(fd >= 0, "cannot write \(path)")
    var offset = 0
    while offset < bytes.count {
        let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        invariant(written > 0, "cannot write \(path)")
        offset += written
    }
    close(fd)
}
