public import CordonCore

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
        public init() {}

        public var any: Bool { hardLinked || special || setuid || setgid || sticky || executableAdded || opaque }
    }

    public var kind: Kind
    /// Relative to the workspace root, `/`-separated, no leading slash.
    public var path: String
    public var type: FileInfo.FileType
    /// Bytes of the new content (upper) or, for deletions, of the removed lower file.
    public var size: UInt64
    /// Permission bits of the new entry (upper), or of the removed one.
    public var mode: UInt32
    /// Permission bits in the lower layer, when it had the path.
    public var lowerMode: UInt32?
    public var lowerSize: UInt64?
    /// For symlinks: the target as written.
    public var symlinkTarget: String?
    public var flags: Flags

    public init(
        kind: Kind, path: String, type: FileInfo.FileType, size: UInt64 = 0, mode: UInt32 = 0, lowerMode: UInt32? = nil, lowerSize: UInt64? = nil,
        symlinkTarget: String? = nil, flags: Flags = Flags()
    ) {
        self.kind = kind
        self.path = path
        self.type = type
        self.size = size
        self.mode = mode
        self.lowerMode = lowerMode
        self.lowerSize = lowerSize
        self.symlinkTarget = symlinkTarget
        self.flags = flags
    }
}

/// The difference between an overlay's upper layer and its lower layer, as a list of changes.
///
/// Deletions come from whiteouts in any of the forms overlayfs and fuse-overlayfs write: a 0/0
/// character device, a file carrying `trusted.overlay.whiteout` / `user.overlay.whiteout`, or a
/// `.wh.NAME` file. An opaque directory (`trusted.overlay.opaque` / `user.overlay.opaque` = "y", or
/// `.wh..wh..opq`) replaces its lower directory: lower entries missing from it are deletions. A
/// rename shows as a deletion plus an addition. Nothing is followed through a symlink.
public struct ChangeSet: Sendable, Equatable, Codable {
    public var upper: String
    public var lower: String
    /// Ordered so that applying them in sequence works: a directory before its contents when added,
    /// contents before their directory when removed.
    public var changes: [Change]

    public init(upper: String, lower: String, changes: [Change]) {
        self.upper = upper
        self.lower = lower
        self.changes = changes
    }

    public struct Summary: Sendable, Equatable, Codable {
        public var added = 0
        public var modified = 0
        public var modeChanged = 0
        public var deleted = 0
        public var dirsAdded = 0
        public var dirsRemoved = 0
        public var bytesAdded: UInt64 = 0
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
    static let opaqueMarker = ".wh..wh..opq"

    /// Reads the change set of `upper` against `lower`.
    public static func read(upper: String, lower: String) throws(CordonError) -> ChangeSet {
        guard let top = try FileInfo.lstat(upper), top.type == .directory else {
            throw CordonError(.notFound, "upper layer \(upper) is not a directory", hint: "was the sandbox run with an overlay workspace?")
        }
        var reader = Reader(upper: upper, lower: lower)
        try reader.walk("", opaque: isOpaque(path: upper))
        return ChangeSet(upper: upper, lower: lower, changes: reader.changes)
    }

    /// Whether the upper entry at `path` is a whiteout in any supported form.
    public static func isWhiteout(path: String, name: String, info: FileInfo) -> Bool {
        isWhiteout(name: name, info: info, xattrs: ExtendedAttributes.names(path))
    }

    /// The same, given the entry's extended attribute names (one listxattr rather than a getxattr each).
    static func isWhiteout(name: String, info: FileInfo, xattrs: [String]) -> Bool {
        if info.isCharDeviceWhiteout { return true }
        if name.hasPrefix(whiteoutPrefix) && name != opaqueMarker { return true }
        return info.type == .file && info.size == 0 && xattrs.contains(where: whiteoutXattrs.contains)
    }

    /// Whether the upper directory at `path` is opaque.
    public static func isOpaque(path: String) -> Bool {
        isOpaque(path: path, xattrs: ExtendedAttributes.names(path))
    }

    static func isOpaque(path: String, xattrs: [String]) -> Bool {
        if opaqueXattrs.contains(where: { xattrs.contains($0) && ExtendedAttributes.get(path, $0) == Array("y".utf8) }) { return true }
        return (try? FileInfo.lstat(path + "/" + opaqueMarker)) != nil
    }

    private struct Reader {
        let upper: String
        let lower: String
        var changes: [Change] = []

        func join(_ base: String, _ rel: String) -> String { rel.isEmpty ? base : base + "/" + rel }
        func child(_ rel: String, _ name: String) -> String { rel.isEmpty ? name : rel + "/" + name }

        mutating func walk(_ rel: String, opaque: Bool) throws(CordonError) {
            let upperDir = join(upper, rel)
            let names = try DirectoryListing.names(upperDir)
            var present = Set<String>()
            var deletions = Set<String>()
            for name in names {
                if name == ChangeSet.opaqueMarker { continue }
                let upperPath = upperDir + "/" + name
                guard let info = try FileInfo.lstat(upperPath) else { continue }
                // Usually empty: one listxattr answers the whiteout, redirect/metacopy and opaque questions.
                let xattrs = ExtendedAttributes.names(upperPath)
                if ChangeSet.isWhiteout(name: name, info: info, xattrs: xattrs) {
                    let target = name.hasPrefix(ChangeSet.whiteoutPrefix) && !info.isCharDeviceWhiteout
                        ? String(name.dropFirst(ChangeSet.whiteoutPrefix.count)) : name
                    deletions.insert(target)
                    continue
                }
                present.insert(name)
                if let attribute = ChangeSet.unsupportedXattrs.first(where: xattrs.contains) {
                    throw CordonError(
                        .unsupported, "\(upperPath) carries \(attribute), an overlay feature cordon does not read",
                        hint: "mount the workspace overlay without redirect_dir and metacopy (cordon's default)")
                }
                try entry(child(rel, name), upperPath: upperPath, info: info, xattrs: xattrs)
            }
            // Lower entries hidden by an opaque directory are deletions, unless the upper replaced them.
            if opaque, let lowerInfo = try FileInfo.lstat(join(lower, rel)), lowerInfo.type == .directory {
                for name in try DirectoryListing.names(join(lower, rel)) where !present.contains(name) {
                    deletions.insert(name)
                }
            }
            for name in deletions.sorted() where !present.contains(name) {
                try removeLower(child(rel, name))
            }
        }

        mutating func entry(_ rel: String, upperPath: String, info: FileInfo, xattrs: [String]) throws(CordonError) {
            let lowerInfo = try FileInfo.lstat(join(lower, rel))
            var flags = Change.Flags()
            flags.hardLinked = info.type != .directory && info.linkCount > 1
            flags.special = info.isSpecial
            flags.setuid = info.mode & 0o4000 != 0
            flags.setgid = info.mode & 0o2000 != 0
            flags.sticky = info.isSticky
            if info.type == .file && info.isExecutable {
                flags.executableAdded = !(lowerInfo?.type == .file && lowerInfo?.isExecutable == true)
            }
            if info.type == .directory {
                flags.opaque = ChangeSet.isOpaque(path: upperPath, xattrs: xattrs)
                if let lowerInfo, lowerInfo.type == .directory {
                    if flags.opaque {
                        changes.append(Change(kind: .dirReplaced, path: rel, type: .directory, mode: info.mode, lowerMode: lowerInfo.mode, flags: flags))
                    } else if lowerInfo.mode != info.mode || flags.setuid || flags.setgid || flags.sticky {
                        changes.append(Change(kind: .dirModeChanged, path: rel, type: .directory, mode: info.mode, lowerMode: lowerInfo.mode, flags: flags))
                    }
                } else {
                    if lowerInfo != nil { try removeLower(rel) }
                    changes.append(Change(kind: .dirAdded, path: rel, type: .directory, mode: info.mode, flags: flags))
                }
                try walk(rel, opaque: flags.opaque)
                return
            }
            let target = info.type == .symlink ? try FileContents.readLink(upperPath) : nil
            let size = info.type == .file ? info.size : UInt64(target?.utf8.count ?? 0)
            guard let lowerInfo else {
                changes.append(Change(kind: .added, path: rel, type: info.type, size: size, mode: info.mode, symlinkTarget: target, flags: flags))
                return
            }
            if lowerInfo.type == .directory {
                try removeLower(rel)
                changes.append(Change(kind: .added, path: rel, type: info.type, size: size, mode: info.mode, symlinkTarget: target, flags: flags))
                return
            }
            let kind: Change.Kind?
            if lowerInfo.type != info.type {
                kind = .modified
            } else {
                switch info.type {
                case .file:
                    let same = info.size == lowerInfo.size ? try FileContents.equal(upperPath, join(lower, rel)) : false
                    kind = !same ? .modified : (info.mode != lowerInfo.mode ? .modeChanged : nil)
                case .symlink:
                    kind = try FileContents.readLink(join(lower, rel)) != target ? .modified : nil
                default:
                    kind = .modified
                }
            }
            guard let kind else { return }
            changes.append(
                Change(
                    kind: kind, path: rel, type: info.type, size: size, mode: info.mode, lowerMode: lowerInfo.mode,
                    lowerSize: lowerInfo.type == .file ? lowerInfo.size : nil, symlinkTarget: target, flags: flags))
        }

        /// Records the removal of a lower entry, a directory's contents first.
        mutating func removeLower(_ rel: String) throws(CordonError) {
            let path = join(lower, rel)
            guard let info = try FileInfo.lstat(path) else { return }
            if info.type == .directory {
                for name in try DirectoryListing.names(path) {
                    try removeLower(child(rel, name))
                }
                changes.append(Change(kind: .dirRemoved, path: rel, type: .directory, mode: info.mode))
            } else {
                changes.append(Change(kind: .deleted, path: rel, type: info.type, size: info.type == .file ? info.size : 0, mode: info.mode))
            }
        }
    }
}
