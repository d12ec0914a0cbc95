public import CordonCore
import CordonOS

#if canImport(Glibc)
    import Glibc
#endif

/// One change an overlay upper layer makes to its lower layer.
public struct Change: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable, Equatable, CaseIterable {
        /// A file, symlink or special file that the lower layer does not have.
        case added
        /// Content (or symlink target, or file type) differs from the lower layer.
        case modified
        /// Same content, different permission bits.
        case modeChanged = "mode_changed"
        /// Present in the lower layer, whited out (or hidden by an opaque directory) in the upper.
        case deleted
        case dirAdded = "dir_added"
        case dirRemoved = "dir_removed"
        /// A directory whose permission bits changed.
        case dirModeChanged = "dir_mode_changed"
        /// An opaque directory: it replaces the lower one (hidden lower entries appear as deletions).
        case dirReplaced = "dir_replaced"

        /// The one-letter code `cordon diff` prints.
        public var letter: String {
            switch self {
            case .added: "A"
            case .modified: "M"
            case .modeChanged: "T"
            case .deleted: "D"
            case .dirAdded: "A"
            case .dirRemoved: "D"
            case .dirModeChanged: "T"
            case .dirReplaced: "R"
            }
        }

        public var isDeletion: Bool { self == .deleted || self == .dirRemoved }
    }

    /// Properties the gate checks, read from the upper entry.
    public struct Flags: Sendable, Equatable, Codable {
        /// More than one hard link to the upper file.
        public var hardLinked: Bool = false
        /// Character or block device (other than a whiteout), fifo or socket.
        public var special: Bool = false
        public var setuid: Bool = false
        public var setgid: Bool = false
        public var sticky: Bool = false
        /// Executable now, and not executable (or absent) in the lower layer.
        public var executableAdded: Bool = false
        /// The directory is opaque: it replaces the lower directory rather than merging with it.
        public var opaque: Bool = false
        /// Why the entry's name (or symlink target) cannot be applied: not valid UTF-8, or a
        /// whiteout name that names no entry. The path shown is escaped; the entry is always held.
        public var unsafeName: String? = nil
        public init() {}

        public var any: Bool { hardLinked || special || setuid || setgid || sticky || executableAdded || opaque || unsafeName != nil }
    }

    public var kind: Kind
    /// Relative to the workspace root, `/`-separated, no leading slash.
    public var path: String
    public var type: FileInfo.FileType
    /// Bytes of the new content (upper) or, for deletions, of the removed lower file.
    public var size: UInt64 = 0
    /// Permission bits of the new entry (upper), or of the removed one.
    public var mode: UInt32 = 0
    /// Permission bits in the lower layer, when it had the path.
    public var lowerMode: UInt32?
    public var lowerSize: UInt64?
    /// For symlinks: the target as written.
    public var symlinkTarget: String?
    public var flags: Flags = Flags()
}

/// The difference between an overlay's upper layer and its lower layer, as a list of changes.
///
/// Deletions come from whiteouts in the forms the kernel's overlayfs (the only one cordon mounts)
/// writes: a 0/0 character device, or an empty file carrying `trusted.overlay.whiteout` /
/// `user.overlay.whiteout`. An opaque directory (`trusted.overlay.opaque` / `user.overlay.opaque`
/// = "y") replaces its lower directory: lower entries missing from it are deletions. A rename
/// shows as a deletion plus an addition. Nothing is followed through a symlink.
///
/// fuse-overlayfs' and OCI layers' `.wh.NAME` files and `.wh..wh..opq` markers are ordinary files
/// to the kernel's overlayfs: the agent can create them. They are never read as deletions; they
/// are held with the `unsafeName` flag, so that no tool that later reads the tree as a layer
/// takes them for one.
public struct ChangeSet: Sendable, Equatable, Codable {
    /// The overlay's upper layer: the directory holding every write the agent made.
    public var upper: String
    /// The lower layer the changes are against: the host workspace or mounted directory.
    public var lower: String
    /// Where the bytes of the changed files are read: `upper` itself, or the snapshot `read` copied
    /// them to while the sandbox was running.
    public var contents: String
    /// Ordered so that applying them in sequence works: a directory before its contents when added,
    /// contents before their directory when removed.
    public var changes: [Change]

    public init(upper: String, lower: String, changes: [Change]) {
        self.upper = upper
        self.lower = lower
        self.contents = upper
        self.changes = changes
    }

    enum CodingKeys: String, CodingKey { case upper, lower, changes }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            upper: try container.decode(String.self, forKey: .upper), lower: try container.decode(String.self, forKey: .lower),
            changes: try container.decode([Change].self, forKey: .changes))
    }

    /// Counts of a change set by kind, for the one-line summary and `--json`.
    public struct Summary: Sendable, Equatable, Codable {
        /// Files, symlinks and special files added.
        public var added = 0
        /// Entries whose content, symlink target or type changed.
        public var modified = 0
        /// Entries and directories whose permission bits changed, and replaced (opaque) directories.
        public var modeChanged = 0
        /// Entries other than directories deleted.
        public var deleted = 0
        public var dirsAdded = 0
        public var dirsRemoved = 0
        /// Size of the new content of added and modified files.
        public var bytesAdded: UInt64 = 0
        /// Size of the lower files that modified and deleted entries replace or remove.
        public var bytesRemoved: UInt64 = 0
        public init() {}
        public var total: Int { added + modified + modeChanged + deleted + dirsAdded + dirsRemoved }
    }

    public var summary: Summary {
        var s = Summary()
        for change in changes {
            switch change.kind {
            case .added:
                s.added += 1
                s.bytesAdded += change.size
            case .modified:
                s.modified += 1
                s.bytesAdded += change.size
                s.bytesRemoved += change.lowerSize ?? 0
            case .modeChanged, .dirModeChanged, .dirReplaced: s.modeChanged += 1
            case .deleted:
                s.deleted += 1
                s.bytesRemoved += change.size
            case .dirAdded: s.dirsAdded += 1
            case .dirRemoved: s.dirsRemoved += 1
            }
        }
        return s
    }

    public var isEmpty: Bool { changes.isEmpty }

    /// Xattr names overlayfs uses, in both namespaces (`trusted.` as root, `user.` with `userxattr`).
    static let whiteoutXattrs = ["trusted.overlay.whiteout", "user.overlay.whiteout"]
    static let opaqueXattrs = ["trusted.overlay.opaque", "user.overlay.opaque"]
    /// Layer features that change what an upper entry means; refused rather than misread.
    static let unsupportedXattrs = ["trusted.overlay.redirect", "user.overlay.redirect", "trusted.overlay.metacopy", "user.overlay.metacopy"]
    public static let whiteoutPrefix = ".wh."
    /// The longest path a system call takes (PATH_MAX less its NUL).
    public static let pathLimit = Int(PATH_MAX) - 1

    /// Whether the host entry at `rel` under `lower` is too deep for one call to reach by path: the
    /// agent can nest names past it, and the gate blocks such a change (`fs-path-too-long`)
    /// rather than failing on it; nothing of it is copied or read.
    public static func pathTooLong(_ rel: String, lower: String) -> Bool {
        lower.utf8.count + 1 + rel.utf8.count > pathLimit
    }

    /// Reads the change set of `upper` against `lower`.
    ///
    /// Everything in `upper` was written by the agent and is read as hostile: the walk holds a
    /// directory descriptor for each level and opens each entry beneath it with O_NOFOLLOW, so a
    /// symlink swapped in anywhere is never followed, and each file's metadata comes from the
    /// descriptor that is read. With `snapshot` (a sandbox still running, which may rewrite its files
    /// at any moment), every added or modified file is copied there, at the same relative path, as it
    /// is read: the change set then describes the copy, `contents` points at it, and the gate scans
    /// and the applier applies exactly those bytes. `snapshot` must not exist; it is created 0700.
    /// `limits` bound what is copied by the gate's size limits (`SnapshotLimits`): a file the gate
    /// blocks for its size is never copied whole.
    public static func read(upper: String, lower: String, snapshot: String? = nil, limits: SnapshotLimits = .unlimited) throws(CordonError) -> ChangeSet {
        let top = open(upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard top >= 0 else {
            throw CordonError(.notFound, "upper layer \(upper) is not a directory", hint: "was the sandbox run with an overlay workspace?")
        }
        defer { close(top) }
        let lowerTop = open(lower, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { if lowerTop >= 0 { close(lowerTop) } }
        var copies: AnchoredDirectory?
        if let snapshot {
            guard mkdir(snapshot, 0o700) == 0 else { throw AnchoredDirectory.error("create snapshot directory", snapshot) }
            copies = try AnchoredDirectory(snapshot)
        }
        var reader = Reader(upper: upper, lower: lower, snapshot: copies, limits: limits)
        try reader.walk("", upperDir: top, lowerDir: lowerTop >= 0 ? lowerTop : nil, opaque: isOpaque(descriptor: top))
        var set = ChangeSet(upper: upper, lower: lower, changes: reader.changes)
        if let snapshot { set.contents = snapshot }
        return set
    }

    /// Whether an upper entry is a whiteout in a form the kernel's overlayfs writes, given its
    /// extended attribute names (read from its descriptor: one flistxattr rather than a getxattr each).
    static func isWhiteout(info: FileInfo, xattrs: [String]) -> Bool {
        if info.isCharDeviceWhiteout { return true }
        return info.type == .file && info.size == 0 && xattrs.contains(where: whiteoutXattrs.contains)
    }

    /// Whether the upper directory at `path` is opaque.
    public static func isOpaque(path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return isOpaque(descriptor: fd)
    }

    static func isOpaque(descriptor fd: Int32, xattrs: [String]? = nil) -> Bool {
        let names = xattrs ?? ExtendedAttributes.names(descriptor: fd)
        return opaqueXattrs.contains(where: { names.contains($0) && ExtendedAttributes.get(descriptor: fd, $0) == Array("y".utf8) })
    }

    private struct Reader {
        let upper: String
        let lower: String
        let snapshot: AnchoredDirectory?
        let limits: SnapshotLimits
        var changes: [Change] = []
        /// Bytes of the added and modified files so far, as the gate counts them for `sync.max_total_size`.
        var total: UInt64 = 0

        func child(_ rel: String, _ name: String) -> String { rel.isEmpty ? name : rel + "/" + name }

        mutating func count(_ size: UInt64) { total = size > .max - total ? .max : total + size }

        mutating func walk(_ rel: String, upperDir: Int32, lowerDir: Int32?, opaque: Bool) throws(CordonError) {
            let names = try RawName.list(upperDir, path: rel.isEmpty ? upper : upper + "/" + rel)
            var present = Set<RawName>()
            var deletions = Set<RawName>()
            for name in names {
                guard let st = name.stat(in: upperDir) else { continue }
                let info = FileInfo(st)
                let path = child(rel, name.display)
                if let problem = name.problem {
                    // Recorded, held by the gate, never descended into or applied: the name has no
                    // String that maps back to it.
                    present.insert(name)
                    var flags = Change.Flags()
                    flags.unsafeName = problem
                    let kind: Change.Kind = info.isCharDeviceWhiteout ? .deleted : (info.type == .directory ? .dirAdded : .added)
                    changes.append(
                        Change(
                            kind: kind, path: path, type: info.isCharDeviceWhiteout ? .file : info.type, size: info.type == .file ? info.size : 0,
                            mode: info.mode, flags: flags))
                    continue
                }
                switch info.type {
                case .directory:
                    let (fd, dirInfo) = try openEntry(name, in: upperDir, path: path, as: .directory)
                    defer { close(fd) }
                    let xattrs = ExtendedAttributes.names(descriptor: fd)
                    try refuseUnsupported(xattrs, path: path)
                    present.insert(name)
                    try directory(path, name: name, fd: fd, info: dirInfo, xattrs: xattrs, lowerDir: lowerDir)
                case .file:
                    let (fd, fileInfo) = try openEntry(name, in: upperDir, path: path, as: .file)
                    defer { close(fd) }
                    let xattrs = ExtendedAttributes.names(descriptor: fd)
                    if ChangeSet.isWhiteout(info: fileInfo, xattrs: xattrs) {
                        deletions.insert(name)
                        continue
                    }
                    try refuseUnsupported(xattrs, path: path)
                    present.insert(name)
                    if name.text.hasPrefix(ChangeSet.whiteoutPrefix) {
                        // `.wh.NAME`, `.wh..wh..opq`: an ordinary file here, in the form of another
                        // overlay's whiteout. Never a deletion; held as a finding.
                        var flags = flags(fileInfo, lower: nil)
                        flags.unsafeName = "\(name.text) has the form of a fuse-overlayfs or OCI-layer whiteout; held so that no tool takes it for a deletion"
                        changes.append(Change(kind: .added, path: path, type: .file, size: fileInfo.size, mode: fileInfo.mode, flags: flags))
                        continue
                    }
                    try file(path, name: name, fd: fd, info: fileInfo, lowerDir: lowerDir)
                default:
                    if info.isCharDeviceWhiteout {
                        deletions.insert(name)
                        continue
                    }
                    present.insert(name)
                    try other(path, name: name, upperDir: upperDir, info: info, lowerDir: lowerDir)
                }
            }
            // Lower entries hidden by an opaque directory are deletions, unless the upper replaced them.
            if opaque, let lowerDir {
                for name in try RawName.list(lowerDir, path: lower + "/" + rel) where !present.contains(name) {
                    deletions.insert(name)
                }
            }
            for name in deletions.sorted() where !present.contains(name) {
                try removeLower(child(rel, name.display), name: name, in: lowerDir)
            }
        }

        /// Opens the entry beneath `dir` without following a symlink and describes what was opened:
        /// an entry swapped for another type since it was listed is a race, never read as the old one.
        func openEntry(_ name: RawName, in dir: Int32, path: String, as type: FileInfo.FileType) throws(CordonError) -> (Int32, FileInfo) {
            let flags = type == .directory ? O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC : O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC
            let fd = name.open(in: dir, flags)
            guard fd >= 0 else { throw raced(path, errno) }
            var st = stat()
            guard fstat(fd, &st) == 0 else {
                let code = errno
                close(fd)
                throw raced(path, code)
            }
            let info = FileInfo(st)
            guard info.type == type else {
                close(fd)
                throw raced(path, EINVAL)
            }
            return (fd, info)
        }

        func raced(_ path: String, _ code: Int32) -> CordonError {
            CordonError(.io, "\(upper)/\(path) changed while it was being read", hint: "the sandbox is still writing; run the command again", errno: code)
        }

        func refuseUnsupported(_ xattrs: [String], path: String) throws(CordonError) {
            guard let attribute = ChangeSet.unsupportedXattrs.first(where: xattrs.contains) else { return }
            throw CordonError(
                .unsupported, "\(upper)/\(path) carries \(attribute), an overlay feature cordon does not read",
                hint: "mount the workspace overlay without redirect_dir and metacopy (cordon's default)")
        }

        /// The lower entry with `name`, without following a symlink.
        func lowerInfo(_ name: RawName, in lowerDir: Int32?) -> FileInfo? {
            guard let lowerDir, let st = name.stat(in: lowerDir) else { return nil }
            return FileInfo(st)
        }

        func flags(_ info: FileInfo, lower: FileInfo?) -> Change.Flags {
            var flags = Change.Flags()
            flags.hardLinked = info.type != .directory && info.linkCount > 1
            flags.special = info.isSpecial
            flags.setuid = info.mode & 0o4000 != 0
            flags.setgid = info.mode & 0o2000 != 0
            flags.sticky = info.isSticky
            if info.type == .file && info.isExecutable {
                flags.executableAdded = !(lower?.type == .file && lower?.isExecutable == true)
            }
            return flags
        }

        mutating func directory(_ rel: String, name: RawName, fd: Int32, info: FileInfo, xattrs: [String], lowerDir: Int32?) throws(CordonError) {
            let lowerInfo = lowerInfo(name, in: lowerDir)
            var flags = flags(info, lower: lowerInfo)
            flags.opaque = ChangeSet.isOpaque(descriptor: fd, xattrs: xattrs)
            var lowerChild: Int32 = -1
            if let lowerDir, let lowerInfo, lowerInfo.type == .directory {
                lowerChild = name.open(in: lowerDir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                if flags.opaque {
                    changes.append(Change(kind: .dirReplaced, path: rel, type: .directory, mode: info.mode, lowerMode: lowerInfo.mode, flags: flags))
                } else if lowerInfo.mode != info.mode || flags.setuid || flags.setgid || flags.sticky {
                    changes.append(Change(kind: .dirModeChanged, path: rel, type: .directory, mode: info.mode, lowerMode: lowerInfo.mode, flags: flags))
                }
            } else {
                if lowerInfo != nil { try removeLower(rel, name: name, in: lowerDir) }
                changes.append(Change(kind: .dirAdded, path: rel, type: .directory, mode: info.mode, flags: flags))
            }
            defer { if lowerChild >= 0 { close(lowerChild) } }
            try walk(rel, upperDir: fd, lowerDir: lowerChild >= 0 ? lowerChild : nil, opaque: flags.opaque)
        }

        mutating func file(_ rel: String, name: RawName, fd: Int32, info: FileInfo, lowerDir: Int32?) throws(CordonError) {
            let lowerInfo = lowerInfo(name, in: lowerDir)
            var info = info
            // A running sandbox: the bytes are copied now, and everything below describes the copy.
            var source = fd
            var copy: Int32 = -1
            defer { if copy >= 0 { close(copy) } }
            // Past the total the gate blocks the whole set by size and reads no file after this one:
            // nothing more is copied; nor is a path too long for the gate to read.
            if let snapshot, total <= limits.total, !ChangeSet.pathTooLong(rel, lower: lower) {
                try snapshot.makeParents(of: rel)
                try snapshot.createFile(rel, from: fd, mode: info.mode & 0o777, durable: false, limit: limits.copyLimit)
                copy = try snapshot.openForReading(rel)
                var st = stat()
                guard fstat(copy, &st) == 0 else { throw AnchoredDirectory.error("stat", snapshot.root + "/" + rel) }
                info.size = UInt64(max(st.st_size, 0))
                source = copy
            }
            let flags = flags(info, lower: lowerInfo)
            guard let lowerInfo, let lowerDir else {
                count(info.size)
                changes.append(Change(kind: .added, path: rel, type: .file, size: info.size, mode: info.mode, flags: flags))
                return
            }
            if lowerInfo.type == .directory {
                try removeLower(rel, name: name, in: lowerDir)
                count(info.size)
                changes.append(Change(kind: .added, path: rel, type: .file, size: info.size, mode: info.mode, flags: flags))
                return
            }
            var kind: Change.Kind? = .modified
            if lowerInfo.type == .file && lowerInfo.size == info.size {
                let other = name.open(in: lowerDir, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
                if other >= 0 {
                    defer { close(other) }
                    _ = lseek(source, 0, SEEK_SET)
                    if FileContents.equal(descriptors: source, other) == true { kind = info.mode != lowerInfo.mode ? .modeChanged : nil }
                }
            }
            guard let kind else { return }
            if kind == .modified { count(info.size) }
            changes.append(
                Change(
                    kind: kind, path: rel, type: .file, size: info.size, mode: info.mode, lowerMode: lowerInfo.mode,
                    lowerSize: lowerInfo.type == .file ? lowerInfo.size : nil, flags: flags))
        }

        /// Symlinks and special files.
        mutating func other(_ rel: String, name: RawName, upperDir: Int32, info: FileInfo, lowerDir: Int32?) throws(CordonError) {
            let lowerInfo = lowerInfo(name, in: lowerDir)
            var flags = flags(info, lower: lowerInfo)
            var target: String?
            if info.type == .symlink {
                let raw = name.readLink(in: upperDir)
                guard let raw else { throw raced(rel, errno) }
                if let text = String(validating: raw, as: UTF8.self) {
                    target = text
                } else {
                    target = RawName.escape(raw)
                    flags.unsafeName = "the symlink's target is not valid UTF-8"
                }
            }
            let size = UInt64(target?.utf8.count ?? 0)
            guard let lowerInfo, let lowerDir else {
                changes.append(Change(kind: .added, path: rel, type: info.type, size: size, mode: info.mode, symlinkTarget: target, flags: flags))
                return
            }
            if lowerInfo.type == .directory {
                try removeLower(rel, name: name, in: lowerDir)
                changes.append(Change(kind: .added, path: rel, type: info.type, size: size, mode: info.mode, symlinkTarget: target, flags: flags))
                return
            }
            if info.type == .symlink && lowerInfo.type == .symlink, let lowerTarget = name.readLink(in: lowerDir),
                String(validating: lowerTarget, as: UTF8.self) == target, flags.unsafeName == nil
            {
                return
            }
            changes.append(
                Change(
                    kind: .modified, path: rel, type: info.type, size: size, mode: info.mode, lowerMode: lowerInfo.mode,
                    lowerSize: lowerInfo.type == .file ? lowerInfo.size : nil, symlinkTarget: target, flags: flags))
        }

        /// Records the removal of a lower entry, a directory's contents first.
        mutating func removeLower(_ rel: String, name: RawName, in lowerDir: Int32?) throws(CordonError) {
            guard let lowerDir, let st = name.stat(in: lowerDir) else { return }
            let info = FileInfo(st)
            var flags = Change.Flags()
            flags.unsafeName = name.problem
            if info.type == .directory && name.problem == nil {
                let fd = name.open(in: lowerDir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard fd >= 0 else { throw AnchoredDirectory.error("open directory", lower + "/" + rel) }
                defer { close(fd) }
                for inner in try RawName.list(fd, path: lower + "/" + rel) {
                    try removeLower(child(rel, inner.display), name: inner, in: fd)
                }
                changes.append(Change(kind: .dirRemoved, path: rel, type: .directory, mode: info.mode))
            } else {
                let kind: Change.Kind = info.type == .directory ? .dirRemoved : .deleted
                changes.append(Change(kind: kind, path: rel, type: info.type, size: info.type == .file ? info.size : 0, mode: info.mode, flags: flags))
            }
        }
    }
}
