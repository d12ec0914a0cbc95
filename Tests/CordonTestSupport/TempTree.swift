public import CCordon
import Glibc

/// The one scratch directory helper for tests: a fresh `mkdtemp` tree under /tmp, removed on
/// deinit. Creating it fails loudly (a thrown error naming the template and errno), never by
/// falling back to a shared fixed path another test could be using.
public final class TempTree: Sendable {
    public let root: String

    public init(prefix: String = "cordon-test") throws {
        root = try Self.makeDirectory(prefix: prefix)
    }

    /// A fresh directory `/tmp/PREFIX-XXXXXX` that the caller removes (see `removeTree`).
    public static func makeDirectory(prefix: String = "cordon-test") throws -> String {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        let made: String? = template.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress, let dir = mkdtemp(base) else { return nil }
            return String(cString: dir)
        }
        guard let made else {
            throw TestSupportError("mkdtemp /tmp/\(prefix)-XXXXXX: \(String(cString: strerror(errno)))")
        }
        return made
    }

    /// Removes `path` and everything beneath it (no symlink is followed).
    public static func removeTree(_ path: String) { remove(path) }

    deinit { Self.remove(root) }

    public func path(_ rel: String) -> String { root + "/" + rel }

    public func mkdir(_ rel: String, mode: mode_t = 0o755) {
        var prefix = root
        for part in rel.split(separator: "/") {
            prefix += "/" + part
            _ = Glibc.mkdir(prefix, 0o755)
        }
        _ = chmod(prefix, mode)
    }

    public func write(_ rel: String, _ text: String, mode: mode_t = 0o644) {
        writeBytes(rel, Array(text.utf8), mode: mode)
    }

    public func writeBytes(_ rel: String, _ bytes: [UInt8], mode: mode_t = 0o644) {
        if let slash = rel.lastIndex(of: "/") { mkdir(String(rel[..<slash])) }
        let fd = open(path(rel), O_WRONLY | O_CREAT | O_TRUNC, mode)
        precondition(fd >= 0, "open \(rel)")
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        _ = chmod(path(rel), mode)
    }

    public func read(_ rel: String) -> String? {
        let fd = open(path(rel), O_RDONLY | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out += buf.prefix(n)
        }
        return String(decoding: out, as: UTF8.self)
    }

    public func symlink(_ rel: String, to target: String) {
        if let slash = rel.lastIndex(of: "/") { mkdir(String(rel[..<slash])) }
        _ = Glibc.symlink(target, path(rel))
    }

    public func whiteout(_ rel: String) {
        if let slash = rel.lastIndex(of: "/") { mkdir(String(rel[..<slash])) }
        precondition(mknod(path(rel), S_IFCHR | 0o000, __dev_t(ccordon_makedev(0, 0))) == 0, "mknod \(rel)")
    }

    public func xattrWhiteout(_ rel: String, namespace: String = "user") {
        write(rel, "")
        setXattr(rel, namespace + ".overlay.whiteout", "")
    }

    public func opaque(_ rel: String, namespace: String = "trusted") {
        mkdir(rel)
        setXattr(rel, namespace + ".overlay.opaque", "y")
    }

    public func setXattr(_ rel: String, _ name: String, _ value: String) {
        let bytes = Array(value.utf8)
        let rc = bytes.withUnsafeBytes { ccordon_lsetxattr(path(rel), name, $0.baseAddress, $0.count, 0) }
        precondition(rc == 0, "setxattr \(name) on \(rel): \(String(cString: strerror(errno)))")
    }

    public func exists(_ rel: String) -> Bool {
        var st = stat()
        return lstat(path(rel), &st) == 0
    }

    public func mode(_ rel: String) -> UInt32 {
        var st = stat()
        _ = lstat(path(rel), &st)
        return UInt32(st.st_mode) & 0o7777
    }

    private static func remove(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            _ = chmod(path, 0o755)
            if let dir = opendir(path) {
                var names: [String] = []
                while let entry = readdir(dir) {
                    let name = withUnsafePointer(to: entry.pointee.d_name) {
                        $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                    }
                    if name != "." && name != ".." { names.append(name) }
                }
                closedir(dir)
                for name in names { remove(path + "/" + name) }
            }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}

public func makeHardLink(_ a: String, _ b: String) -> Int32 { link(a, b) }
public func makeFifo(_ path: String) -> Int32 { mkfifo(path, 0o644) }
