#if canImport(Glibc)
    import Glibc
#endif

/// The host's mounts as /proc/self/mountinfo lists them: which file system (device) each mount
/// shows, from which directory of it (its root), and where.
///
/// A path's real path says where it is, not what it shows: a mount point beneath a directory
/// (a bind mount an administrator made, a mounted disk) shows whatever it was mounted from, and a
/// recursive bind of that directory into a sandbox carries it along. `reaches` answers the
/// question the real path cannot: whether any part of the tree mounted at a path shows a given
/// directory of a file system, or lies inside it.
public struct MountTable: Sendable {
    public struct Entry: Sendable, Equatable {
        /// `major:minor` of the file system.
        public var device: String
        /// The directory of that file system shown at `mountPoint`.
        public var root: String
        public var mountPoint: String
    }

    public var entries: [Entry]

    public init(entries: [Entry]) {
        self.entries = entries
    }

    /// The calling process's mount table; nil when /proc cannot be read.
    public static func current() -> MountTable? {
        guard let file = fopen("/proc/self/mountinfo", "re") else { return nil }
        defer { fclose(file) }
        var text: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n <= 0 { break }
            text += buffer.prefix(n)
        }
        return MountTable(parsing: String(decoding: text, as: UTF8.self))
    }

    /// Parses mountinfo text (proc(5)): `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS …`, with
    /// space, tab, newline and backslash escaped as octal.
    public init(parsing text: String) {
        entries = text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 5 else { return nil }
            return Entry(device: String(fields[2]), root: Self.unescaped(fields[3]), mountPoint: Self.unescaped(fields[4]))
        }
    }

    /// The mount `path` (canonical) lies on: the last listed mount whose mount point holds it
    /// (a later mount over the same place hides the earlier).
    public func mount(containing path: String) -> Entry? {
        var best: Entry?
        for entry in entries where CordonPaths.isWithin(path, entry.mountPoint) {
            if entry.mountPoint.count >= (best?.mountPoint.count ?? 0) { best = entry }
        }
        return best
    }

    /// Where `path` (canonical) is within its file system: its device and its path from that
    /// file system's root.
    public func location(of path: String) -> (device: String, path: String)? {
        guard let mount = mount(containing: path) else { return nil }
        let rest = mount.mountPoint == "/" ? path : String(path.dropFirst(mount.mountPoint.count))
        return (mount.device, Self.joined(mount.root, rest))
    }

    /// Whether the tree mounted at `path` (canonical; recursively, with every mount beneath it)
    /// shows `directory` (canonical) or any part of it, or lies inside it. Returns the mount
    /// point through which it does.
    public func reaches(from path: String, _ directory: String) -> String? {
        guard let target = location(of: directory), let top = location(of: path) else { return nil }
        var shown: [(device: String, root: String, at: String)] = [(top.device, top.path, path)]
        for entry in entries where entry.mountPoint != path && CordonPaths.isWithin(entry.mountPoint, path) {
            shown.append((entry.device, entry.root, entry.mountPoint))
        }
        for view in shown where view.device == target.device {
            if CordonPaths.isWithin(target.path, view.root) || CordonPaths.isWithin(view.root, target.path) { return view.at }
        }
        return nil
    }

    static func joined(_ root: String, _ rest: String) -> String {
        if rest.isEmpty { return root }
        return root == "/" ? rest : root + rest
    }

    static func unescaped(_ field: Substring) -> String {
        var out: [UInt8] = []
        let bytes = Array(field.utf8)
        var index = 0
        while index < bytes.count {
            if bytes[index] == 0x5C, index + 3 < bytes.count {
                let digits = bytes[(index + 1)...(index + 3)]
                let value = digits.reduce(0) { $0 * 8 + Int($1) - 0x30 }
                if digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x37 }), value <= 255 {
                    out.append(UInt8(value))
                    index += 4
                    continue
                }
            }
            out.append(bytes[index])
            index += 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}
