import CordonCore
import CordonOS
import Glibc

/// The state directories of one-shot sandboxes whose run left nothing, emptied and kept (a few)
/// for the next new sandbox instead of deleted, so that `cordon run -- CMD` neither leaves a
/// directory behind nor makes a new one each time.
///
/// Why: a new state directory is about ten new inodes (the directory, `upper`, `work`, the lock,
/// the logs, the record, the machine-id, the uid claim), and deleting it frees them again. On a
/// journal-less ext4 (this project's CI host) every allocation skips the inodes deleted in the
/// last minutes, reading each one's table block, so with sandboxes coming and going each new
/// inode cost 0.2–0.8 ms, most of it before the sandbox's plan could be sent. Taking a spare is one
/// rename; its files are truncated and rewritten in place.
///
/// What carries over: nothing of the earlier sandbox's. A spare is given only by the run that
/// made it, when its upper layer holds nothing, and it is taken only after every regular file in
/// it (logs, record, machine-id) is truncated and the upper is checked empty again; the taker
/// gets a new machine-id, a new record and its own uid claim. Spares live outside `sandboxes/`,
/// so no command lists, syncs or enters one.
struct SpareStateDirectories {
    /// How many spares are kept; a run that would make one more deletes its directory instead.
    static let keep = 4
    /// Entries of a state directory that stay as they are in a spare: the lock (held while
    /// taken) and the uid-range record, which the taker's claim checks and rewrites.
    static let keptFiles = [SandboxLayout.Entry.lock, IdentityRange.recordName]
    /// Directories a spare keeps: the layers (the upper checked empty) and the rootless root.
    static let keptDirectories = [SandboxLayout.Entry.upper, SandboxLayout.Entry.work, SandboxLayout.Entry.root]

    let directory: String

    init(paths: CordonPaths) { self.directory = paths.spareStateDirectory }
    init(directory: String) { self.directory = directory }

    /// Moves a spare to `layout.directory` (which must not exist) and returns its lock, held
    /// (exclusive, as `SandboxRunner.acquireLock` takes it); nil when there is none to take.
    func take(into layout: SandboxLayout) -> Int32? {
        guard let names = DirectoryListing.names(at: directory) else { return nil }
        for name in names where !name.hasPrefix(".") {
            let spare = directory + "/" + name
            let lock = open(spare + "/lock", O_RDWR | O_NOFOLLOW | O_CLOEXEC)
            guard lock >= 0 else { continue }
            // Held by the run giving it (until it exits) or by another taker: not this one.
            guard flock(lock, LOCK_EX | LOCK_NB) == 0 else {
                close(lock)
                continue
            }
            guard Self.empty(spare), FileSystem.renameNoReplace(spare, layout.directory) == 0 else {
                close(lock)
                continue
            }
            return lock
        }
        return nil
    }

    /// Makes the state directory of a sandbox this run created and left empty a spare (its lock
    /// is held by the caller, who closes it afterwards); false when it was not (enough spares,
    /// or something in it that a spare does not keep): the caller deletes it then.
    func give(_ layout: SandboxLayout) -> Bool {
        let count = DirectoryListing.names(at: directory)?.count ?? 0
        guard count < Self.keep, Self.empty(layout.directory) else { return false }
        do throws(SystemError) { try FileIO.makeDirectories(directory, mode: 0o700) } catch { return false }
        let target = directory + "/" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        return FileSystem.renameNoReplace(layout.directory, target) == 0
    }

    /// Truncates every regular file of the state directory but the kept ones, and checks that
    /// the rest is only the kept directories, with an empty upper: true when the directory may
    /// serve a new sandbox. Nothing is followed: entries are opened beneath the directory.
    static func empty(_ path: String) -> Bool {
        let dir = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard dir >= 0 else { return false }
        defer { close(dir) }
        guard let names = DirectoryListing.names(ofDirectory: dir) else { return false }
        for bytes in names {
            let name = String(decoding: bytes, as: UTF8.self)
            var st = stat()
            guard fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return false }
            switch st.st_mode & S_IFMT {
            case S_IFREG where keptFiles.contains(name):
                continue
            case S_IFREG:
                let fd = openat(dir, name, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC)
                guard fd >= 0 else { return false }
                close(fd)
            case S_IFDIR where name == SandboxLayout.Entry.upper:
                let upper = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard upper >= 0 else { return false }
                let entries = DirectoryListing.names(ofDirectory: upper)
                close(upper)
                guard entries?.isEmpty == true else { return false }
            case S_IFDIR where keptDirectories.contains(name):
                continue
            case S_IFSOCK where name == SandboxLayout.Entry.controlSocket:
                // The last run's control socket: every run binds its own.
                guard unlinkat(dir, name, 0) == 0 else { return false }
            default:
                return false
            }
        }
        return true
    }
}
