// The fixed lower layer (a small workspace) and the canary outside it, made once per process.
import CordonFS
import FuzzSupport

#if canImport(Glibc)
    import Glibc
#endif

struct LowerEntry {
    var type: FileInfo.FileType
    var size: UInt64
}

struct Fixture {
    /// The host workspace the upper layer is read against.
    let lower: String
    /// A directory outside the upper and lower layers: nothing the reader returns may come from it.
    let outside: String
    /// Every lower entry by workspace-relative path.
    let entries: [String: LowerEntry]
    /// The size of the canary file, a size no input can write.
    static let canarySize = 70_001

    static func make(in base: String) -> Fixture {
        let lower = base + "/lower"
        let outside = base + "/outside"
        for dir in [lower, outside, outside + "/secret-dir", lower + "/dir", lower + "/dir/sub", lower + "/empty", lower + "/.git"] {
            invariant(mkdir(dir, 0o755) == 0, "cannot make \(dir): errno \(errno)")
        }
        writeFile(outside + "/canary", Array(repeating: 0x43, count: canarySize))
        writeFile(outside + "/secret-dir/secret.txt", Array("outside the workspace\n".utf8))
        var entries: [String: LowerEntry] = [
            "dir": LowerEntry(type: .directory, size: 0), "dir/sub": LowerEntry(type: .directory, size: 0),
            "empty": LowerEntry(type: .directory, size: 0), ".git": LowerEntry(type: .directory, size: 0),
        ]
        let files: [(String, String)] = [
            ("a.txt", "hello\n"), ("exe.sh", "#!/bin/sh\necho hi\n"), ("dir/inner.txt", "inner\n"), ("dir/sub/deep.txt", "deep\n"),
            (".git/config", "[core]\n"), ("Makefile", "all:\n\ttrue\n"),
        ]
        for (path, text) in files {
            writeFile(lower + "/" + path, Array(text.utf8))
            entries[path] = LowerEntry(type: .file, size: UInt64(text.utf8.count))
        }
        invariant(chmod(lower + "/exe.sh", 0o755) == 0, "cannot chmod exe.sh")
        // A lower symlink to the outside: read as a symlink, never followed into.
        invariant(symlink("a.txt", lower + "/link") == 0, "cannot make link")
        invariant(symlink(outside + "/secret-dir", lower + "/outlink") == 0, "cannot make outlink")
        entries["link"] = LowerEntry(type: .symlink, size: 5)
        entries["outlink"] = LowerEntry(type: .symlink, size: UInt64((outside + "/secret-dir").utf8.count))
        return Fixture(lower: lower, outside: outside, entries: entries)
    }
}

/// Removes the tree at `path` (absolute) without following a symlink; entries the input made
/// unwritable or with odd names included.
func removeTree(_ path: String) {
    guard let slash = path.lastIndex(of: "/") else { return }
    let parent = open(String(path[..<slash]), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard parent >= 0 else { return }
    defer { close(parent) }
    removeEntry(Array(path[path.index(after: slash)...].utf8), in: parent)
}

func removeEntry(_ name: [UInt8], in parent: Int32) {
    withCName(name) { cname in
        if unlinkat(parent, cname, 0) == 0 || errno == ENOENT { return }
        let fd = openat(parent, cname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd >= 0 {
            for child in listNames(fd) { removeEntry(child, in: fd) }
            close(fd)
        }
        invariant(unlinkat(parent, cname, AT_REMOVEDIR) == 0 || errno == ENOENT, "cannot remove a fuzz entry: errno \(errno)")
    }
}

/// The names in the open directory `fd`, without `.` and `..`.
func listNames(_ fd: Int32) -> [[UInt8]] {
    let copy = dup(fd)
    guard copy >= 0, let dir = fdopendir(copy) else { return [] }
    defer { closedir(dir) }
    var names: [[UInt8]] = []
    while let entry = readdir(dir) {
        let raw = withUnsafePointer(to: entry.pointee.d_name) {
            $0.withMemoryRebound(to: UInt8.self, capacity: 256) { pointer in
                Array(UnsafeBufferPointer(start: pointer, count: strnlen(UnsafeRawPointer(pointer).assumingMemoryBound(to: CChar.self), 256)))
            }
        }
        if raw == [0x2E] || raw == [0x2E, 0x2E] { continue }
        names.append(raw)
    }
    return names
}

/// `name` as a NUL-terminated C string.
func withCName<T>(_ name: [UInt8], _ body: (UnsafePointer<CChar>) -> T) -> T {
    (name + [0]).withUnsafeBufferPointer { buffer in
        buffer.withMemoryRebound(to: CChar.self) { pointer in
            guard let base = pointer.baseAddress else { fatalError("empty buffer") }
            return body(base)
        }
    }
}

/// Bytes of the regular files under `path`, not following a symlink.
func treeBytes(_ path: String) -> UInt64 {
    let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
    guard fd >= 0 else { return 0 }
    defer { close(fd) }
    return treeBytes(in: fd)
}

func treeBytes(in dir: Int32) -> UInt64 {
    var bytes: UInt64 = 0
    for name in listNames(dir) {
        var st = stat()
        guard withCName(name, { fstatat(dir, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0 else { continue }
        if st.st_mode & S_IFMT == S_IFDIR {
            let fd = withCName(name) { openat(dir, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            guard fd >= 0 else { continue }
            bytes += treeBytes(in: fd)
            close(fd)
        } else if st.st_mode & S_IFMT == S_IFREG {
            bytes += UInt64(st.st_size)
        }
    }
    return bytes
}
