import CordonOS
import CordonCore
import CordonFS
import CordonScan
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// The workspace as it will be once a change set is applied, as symlink resolution sees it: the
/// change set's entries over the host's, the host's read beneath the workspace without following
/// a symlink.
struct ResultingTree {
    let changes: [String: LinkResolver.Entry]
    let host: AnchoredDirectory?

    init(set: ChangeSet) {
        var changes: [String: LinkResolver.Entry] = [:]
        for change in set.changes {
            changes[change.path] = Self.entry(kind: change.kind, type: change.type, target: change.symlinkTarget)
        }
        self.init(changes: changes, host: try? AnchoredDirectory(set.lower))
    }

    init(changes: [String: LinkResolver.Entry], host: AnchoredDirectory?) {
        self.changes = changes
        self.host = host
    }

    static func entry(kind: Change.Kind, type: FileInfo.FileType, target: String?) -> LinkResolver.Entry {
        switch kind {
        case .deleted, .dirRemoved: return .other
        case .dirAdded, .dirReplaced, .dirModeChanged: return .directory
        case .added, .modified, .modeChanged: return type == .symlink ? .symlink(target ?? "") : (type == .directory ? .directory : .other)
        }
    }

    func entry(_ path: String) -> LinkResolver.Entry {
        if let known = changes[path] { return known }
        guard let host, let st = host.lstat(path) else { return .other }
        switch st.st_mode & S_IFMT {
        case S_IFDIR: return .directory
        case S_IFLNK: return (try? host.readLink(path)).map { .symlink($0) } ?? .symlink("/")
        default: return .other
        }
    }
}
