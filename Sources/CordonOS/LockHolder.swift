#if canImport(Glibc)
    import Glibc
#endif

extension FileLock {
    /// The process holding an flock on `path` now, from /proc/locks (the lock's device and inode);
    /// nil when none is held, the file is missing, or the holder is outside this PID namespace.
    public static func holder(of path: String) -> Int32? {
        var st = stat()
        guard lstat(path, &st) == 0, let bytes = try? FileIO.readFile("/proc/locks", limit: 4 << 20) else { return nil }
        let dev = UInt64(st.st_dev)
        let major = UInt32(truncatingIfNeeded: ((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfff))
        let minor = UInt32(truncatingIfNeeded: (dev & 0xff) | ((dev >> 12) & ~0xff))
        let device = String(format2: major) + ":" + String(format2: minor) + ":" + String(st.st_ino)
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            // `1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF` (a blocked waiter's line has `->`).
            let fields = line.split(separator: " ")
            guard fields.count >= 6, fields[1] == "FLOCK", !fields.contains("->") else { continue }
            guard fields[5] == Substring(device), let pid = Int32(fields[4]), pid > 0 else { continue }
            return pid
        }
        return nil
    }
}

extension String {
    /// `value` in hex, at least two digits, as /proc/locks prints device numbers.
    fileprivate init(format2 value: UInt32) {
        let text = String(value, radix: 16)
        self = text.count < 2 ? "0" + text : text
    }
}
