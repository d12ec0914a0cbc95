// The fuzz input read as a program that builds an upper layer, and the model of what it built.
//
// After the mode byte (main.swift), each operation is one byte (its value modulo the count of
// operations) and its arguments:
//   0 mkdir DIR NAME             1 file DIR NAME CONTENT       2 symlink DIR NAME TARGET
//   3 hard link ENTRY DIR NAME   4 fifo DIR NAME               5 whiteout (char 0/0) DIR NAME
//   6 socket DIR NAME            7 device DIR NAME KIND MAJOR MINOR
//   8 xattr ENTRY WHICH VALUE    9 chmod ENTRY MODE-LO MODE-HI
//  10 append ENTRY CONTENT      11 sparse ENTRY SIZE           12 opaque DIR
//  13 xattr whiteout (an empty file with trusted.overlay.whiteout) DIR NAME
// DIR and ENTRY are a byte picking one made so far (modulo their count; DIR 0 is the root, and so
// is ENTRY 0 of xattr and opaque).
// NAME: below 0xC0 a name from `dictionary`; else (byte & 0x3F) + 1 bytes of the input, 64 of
// them meaning a 255-byte name of the next byte repeated (`/` and NUL become `_`). CONTENT: below
// 0x80 that many bytes of the input; else a 15-bit length (with the next byte) of a pattern from
// the byte after. TARGET: below 0xC0 one of `targets`; else like a NAME, `/` allowed.
// Bounds: 64 operations, 64 KiB of content, 32 directory levels; sparse sizes up to 1 TiB (a
// snapshot copies no more of them than the gate reads).
import CFuzzChangeSet
import CordonFS
import CordonOS
import FuzzSupport

#if canImport(Glibc)
    import Glibc
#endif

/// One inode the input made (hard links share it).
struct Node {
    var size: UInt64 = 0
    var mode: UInt32 = 0
    var links = 1
    var xattrs: [String: [UInt8]] = [:]
}

/// One directory entry the input made.
struct Made {
    /// As the change set names it: the display form of each component, `/`-separated.
    var path: String
    var name: [UInt8]
    /// Index of the parent directory in `Model.entries`; -1 for the root.
    var parent: Int
    var type: FileInfo.FileType
    var node: Int
    var target: [UInt8]? = nil
    var charWhiteout = false
    var depth: Int
    /// The name, or a directory's above it, is not valid UTF-8: the reader holds that entry and
    /// does not descend below it.
    var unsafeName: Bool
    var belowUnsafe: Bool
}

struct Model {
    var entries: [Made] = []
    var nodes: [Node] = []
    var log: [String] = []
    /// The upper layer's root directory: the workspace itself, which the agent may mark too.
    var rootXattrs: [String: [UInt8]] = [:]

    var rootOpaque: Bool { ["trusted.overlay.opaque", "user.overlay.opaque"].contains { rootXattrs[$0] == Array("y".utf8) } }

    static let whiteoutXattrs = ["trusted.overlay.whiteout", "user.overlay.whiteout"]
    static let unsupportedXattrs = ["trusted.overlay.redirect", "user.overlay.redirect", "trusted.overlay.metacopy", "user.overlay.metacopy"]

    /// A file the reader takes for a whiteout: empty, with a whiteout xattr.
    func isXattrWhiteout(_ entry: Made) -> Bool {
        entry.type == .file && nodes[entry.node].size == 0 && nodes[entry.node].xattrs.keys.contains(where: Self.whiteoutXattrs.contains)
    }

    /// What the reader takes for a whiteout: a 0/0 device, or an xattr whiteout with a safe name
    /// (an unsafe name is held as what it is).
    func isWhiteout(_ entry: Made) -> Bool { entry.charWhiteout || (!entry.unsafeName && isXattrWhiteout(entry)) }

    func isOpaque(_ entry: Made) -> Bool {
        entry.type == .directory
            && ["trusted.overlay.opaque", "user.overlay.opaque"].contains { nodes[entry.node].xattrs[$0] == Array("y".utf8) }
    }

    var hasUnsupportedXattr: Bool {
        entries.contains { entry in
            (entry.type == .file || entry.type == .directory) && nodes[entry.node].xattrs.keys.contains(where: Self.unsupportedXattrs.contains)
        }
    }

    var summary: String { "operations:\n" + log.joined(separator: "\n") }
}

struct Program {
    let input: [UInt8]
    var cursor = 0
    var contentBudget = 64 * 1024

    init(_ input: [UInt8]) {
        self.input = input
    }

    static let dictionary: [[UInt8]] =
        [
            "a.txt", "exe.sh", "dir", "inner.txt", "sub", "deep.txt", "link", "outlink", "empty", ".git", "config", "Makefile", "new.txt", "hooks",
            "pre-commit", ".wh.a.txt", ".wh..wh..opq", ".wh.dir", "...", " ", "-rf", "x.pem", ".envrc", "package.json", "denied", "caf\u{E9}",
            "\u{202E}txt.exe", "new\nline", "esc\u{1B}[31m", "\\xFF", "\\x5C", "A.TXT", ".vscode", "settings.json", "tab\tname", "~",
        ].map { Array($0.utf8) } + [[0xFF], [0xC3], [0x80, 0x80], [0x61, 0xFE, 0x62], [0xED, 0xA0, 0x80]]

    var targets: [[UInt8]] {
        [
            fixture.outside + "/canary", fixture.outside + "/secret-dir", "../outside/canary", "../outside/secret-dir", "../../outside/canary",
            "a.txt", "dir", "dir/inner.txt", "link", "outlink", "outlink/secret.txt", ".", "..", "/", "/etc/passwd", "self", "missing",
            "dir/../../x", "caf\u{E9}", "\u{202E}rtl", "./a.txt",
        ].map { Array($0.utf8) }
    }

    mutating func next() -> UInt8? {
        guard cursor < input.count else { return nil }
        defer { cursor += 1 }
        return input[cursor]
    }

    mutating func take(_ count: Int) -> [UInt8] {
        let end = min(input.count, cursor + count)
        defer { cursor = end }
        return Array(input[cursor..<end])
    }

    mutating func readName() -> [UInt8]? {
        guard let b = next() else { return nil }
        var bytes: [UInt8]
        if b < 0xC0 {
            bytes = Self.dictionary[Int(b) % Self.dictionary.count]
        } else if b & 0x3F == 0x3F {
            guard let fill = next() else { return nil }
            bytes = Array(repeating: fill, count: 255)
        } else {
            bytes = take(Int(b & 0x3F) + 1)
        }
        bytes = bytes.map { $0 == 0x2F || $0 == 0 ? 0x5F : $0 }
        if bytes.isEmpty || bytes == [0x2E] || bytes == [0x2E, 0x2E] { return nil }
        return bytes
    }

    mutating func readTarget() -> [UInt8]? {
        guard let b = next() else { return nil }
        if b < 0xC0 { return targets[Int(b) % targets.count] }
        let bytes = take(Int(b & 0x3F) + 1).map { $0 == 0 ? 0x5F : $0 }
        return bytes.isEmpty ? nil : bytes
    }

    mutating func readContent() -> [UInt8]? {
        guard let b = next() else { return nil }
        var bytes: [UInt8]
        if b < 0x80 {
            bytes = take(Int(b))
        } else {
            guard let low = next(), let seed = next() else { return nil }
            let length = Int(b & 0x7F) << 8 | Int(low)
            bytes = (0..<length).map { seed &+ UInt8(truncatingIfNeeded: $0 / 61) }
        }
        bytes = Array(bytes.prefix(contentBudget))
        contentBudget -= bytes.count
        return bytes
    }

    /// Runs the program under `upper`; returns what it made.
    mutating func build(upper: String) -> Model {
        var model = Model()
        let root = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        invariant(root >= 0, "cannot open \(upper)")
        var fds: [Int: Int32] = [-1: root]
        defer { for fd in fds.values { close(fd) } }
        var operations = 0
        while operations < 64, let op = next() {
            operations += 1
            let dirs = [-1] + model.entries.indices.filter { model.entries[$0].type == .directory }
            func pickDir(_ b: UInt8) -> Int { dirs[Int(b) % dirs.count] }
            switch op % 14 {
            case 0:
                guard let d = next(), let name = readName() else { break }
                let parent = pickDir(d)
                if parent >= 0 && model.entries[parent].depth >= 32 { break }
                guard let parentFd = fds[parent], withCName(name, { mkdirat(parentFd, $0, 0o755) }) == 0 else { break }
                let index = add(&model, name: name, parent: parent, type: .directory, parentFd: parentFd)
                let fd = withCName(name) { openat(parentFd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
                invariant(fd >= 0, "cannot open a directory just made")
                fds[index] = fd
            case 1, 13:
                guard let d = next(), let name = readName() else { break }
                let body = op % 14 == 1 ? readContent() : []
                guard let body, let parentFd = fds[pickDir(d)] else { break }
                let fd = withCName(name) { openat(parentFd, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644) }
                guard fd >= 0 else { break }
                defer { close(fd) }
                let written = writeAll(fd, body)
                let marked = op % 14 == 13 && Array("y".utf8).withUnsafeBytes { cfuzz_fsetxattr(fd, "trusted.overlay.whiteout", $0.baseAddress, $0.count) } == 0
                let index = add(&model, name: name, parent: pickDir(d), type: .file, parentFd: parentFd)
                model.nodes[model.entries[index].node].size = UInt64(written)
                if marked { model.nodes[model.entries[index].node].xattrs["trusted.overlay.whiteout"] = Array("y".utf8) }
            case 2:
                guard let d = next(), let name = readName(), let target = readTarget(), let parentFd = fds[pickDir(d)] else { break }
                guard withCName(target, { t in withCName(name) { symlinkat(t, parentFd, $0) } }) == 0 else { break }
                let index = add(&model, name: name, parent: pickDir(d), type: .symlink, parentFd: parentFd)
                model.entries[index].target = target
            case 3:
                let others = model.entries.indices.filter { model.entries[$0].type != .directory }
                guard let e = next(), let d = next(), let name = readName(), !others.isEmpty else { break }
                let source = model.entries[others[Int(e) % others.count]]
                guard let sourceFd = fds[source.parent], let parentFd = fds[pickDir(d)] else { break }
                guard withCName(source.name, { s in withCName(name) { linkat(sourceFd, s, parentFd, $0, 0) } }) == 0 else { break }
                model.nodes[source.node].links += 1
                var made = source
                made.name = name
                made.parent = pickDir(d)
                let parentMade = made.parent >= 0 ? model.entries[made.parent] : nil
                made.path = (parentMade.map { $0.path + "/" } ?? "") + RawName(bytes: name).display
                made.depth = (parentMade?.depth ?? 0) + 1
                made.unsafeName = RawName(bytes: name).problem != nil
                made.belowUnsafe = parentMade.map { $0.unsafeName || $0.belowUnsafe } ?? false
                model.entries.append(made)
                model.log.append("link \(made.path) -> \(source.path)")
            case 4, 5, 6, 7:
                guard let d = next(), let name = readName(), let parentFd = fds[pickDir(d)] else { break }
                let mode: mode_t
                let device: UInt64
                let type: FileInfo.FileType
                switch op % 14 {
                case 4: (mode, type, device) = (S_IFIFO | 0o644, .fifo, 0)
                case 5: (mode, type, device) = (S_IFCHR, .charDevice, 0)
                case 6: (mode, type, device) = (S_IFSOCK | 0o755, .socket, 0)
                default:
                    guard let kind = next(), let major = next(), let minor = next() else { continue }
                    // Never 0/0, which is a whiteout.
                    (mode, type) = kind & 1 == 0 ? (S_IFCHR | 0o600, .charDevice) : (S_IFBLK | 0o600, .blockDevice)
                    device = DeviceNumber.make(major: UInt32(max(major, 1)), minor: UInt32(minor))
                }
                guard withCName(name, { mknodat(parentFd, $0, mode, dev_t(device)) }) == 0 else { break }
                let index = add(&model, name: name, parent: pickDir(d), type: type, parentFd: parentFd)
                model.entries[index].charWhiteout = op % 14 == 5
            case 8, 12:
                // -1: the root.
                let candidates =
                    [-1]
                    + model.entries.indices.filter {
                        op % 14 == 12 ? model.entries[$0].type == .directory : [.file, .directory].contains(model.entries[$0].type)
                    }
                guard let e = next() else { break }
                let picked = candidates[Int(e) % candidates.count]
                var attribute = "trusted.overlay.opaque"
                var value = Array("y".utf8)
                if op % 14 == 8 {
                    guard let which = next(), let v = next() else { break }
                    let names =
                        [
                            "trusted.overlay.opaque", "user.overlay.opaque", "trusted.overlay.whiteout", "user.overlay.whiteout", "trusted.overlay.origin",
                            "user.cordon.note",
                        ] + Model.unsupportedXattrs
                    attribute = names[Int(which) % names.count]
                    value = [Array("y".utf8), Array("n".utf8), [], [v]][Int(v) % 4]
                }
                if picked < 0 {
                    guard value.withUnsafeBytes({ cfuzz_fsetxattr(root, attribute, $0.baseAddress, $0.count) }) == 0 else { break }
                    model.rootXattrs[attribute] = value
                    model.log.append("xattr (root) \(attribute)=\(value)")
                    break
                }
                let entry = model.entries[picked]
                guard let parentFd = fds[entry.parent] else { break }
                let fd = withCName(entry.name) { openat(parentFd, $0, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) }
                guard fd >= 0 else { break }
                defer { close(fd) }
                guard value.withUnsafeBytes({ cfuzz_fsetxattr(fd, attribute, $0.baseAddress, $0.count) }) == 0 else { break }
                model.nodes[entry.node].xattrs[attribute] = value
                model.log.append("xattr \(entry.path) \(attribute)=\(value)")
            case 9:
                let candidates = model.entries.indices.filter { model.entries[$0].type != .symlink }
                guard let e = next(), let lo = next(), let hi = next(), !candidates.isEmpty else { break }
                let entry = model.entries[candidates[Int(e) % candidates.count]]
                let mode = (UInt32(hi) << 8 | UInt32(lo)) & 0o7777
                guard let parentFd = fds[entry.parent], withCName(entry.name, { fchmodat(parentFd, $0, mode, 0) }) == 0 else { break }
                model.nodes[entry.node].mode = mode
                model.log.append("chmod \(entry.path) \(String(mode, radix: 8))")
            case 10, 11:
                let candidates = model.entries.indices.filter { model.entries[$0].type == .file }
                guard let e = next(), !candidates.isEmpty else { break }
                let entry = model.entries[candidates[Int(e) % candidates.count]]
                let appended = op % 14 == 10 ? readContent() : []
                guard let appended, let parentFd = fds[entry.parent] else { break }
                var size: UInt64 = 0
                if op % 14 == 11 {
                    guard let shift = next() else { break }
                    size = UInt64(1) << UInt64(shift % 41)
                }
                let fd = withCName(entry.name) { openat(parentFd, $0, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC) }
                guard fd >= 0 else { break }
                defer { close(fd) }
                if op % 14 == 10 {
                    model.nodes[entry.node].size += UInt64(writeAll(fd, appended))
                } else if ftruncate(fd, off_t(size)) == 0 {
                    model.nodes[entry.node].size = size
                }
                model.log.append("\(op % 14 == 10 ? "append" : "truncate") \(entry.path) -> \(model.nodes[entry.node].size)")
            default:
                break
            }
        }
        return model
    }

    /// Records an entry just made under `parent`, with the mode the kernel gave it.
    func add(_ model: inout Model, name: [UInt8], parent: Int, type: FileInfo.FileType, parentFd: Int32) -> Int {
        var st = stat()
        invariant(withCName(name, { fstatat(parentFd, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0, "cannot stat an entry just made")
        model.nodes.append(Node(size: 0, mode: UInt32(st.st_mode) & 0o7777))
        let parentMade = parent >= 0 ? model.entries[parent] : nil
        let raw = RawName(bytes: name)
        let made = Made(
            path: (parentMade.map { $0.path + "/" } ?? "") + raw.display, name: name, parent: parent, type: type, node: model.nodes.count - 1,
            depth: (parentMade?.depth ?? 0) + 1, unsafeName: raw.problem != nil, belowUnsafe: parentMade.map { $0.unsafeName || $0.belowUnsafe } ?? false)
        model.entries.append(made)
        model.log.append("\(type.rawValue) \(made.path.debugDescription)")
        return model.entries.count - 1
    }
}

func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int {
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        offset += n
    }
    return offset
}
