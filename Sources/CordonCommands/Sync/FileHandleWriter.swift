#if canImport(Glibc)
import Glibc
#endif

/// Unbuffered writes to a file descriptor (stderr), for messages that must not wait for stdout.
enum FileHandleWriter {
    static func write(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress.map { $0 + offset }, $0.count - offset) }
            if n <= 0 { return }
            offset += n
        }
    }
}
