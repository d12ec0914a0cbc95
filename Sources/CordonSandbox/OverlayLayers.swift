import CordonFS
import CordonOS
import Glibc

/// The overlay layers of one run (the workspace's and the profile's overlay mounts), seen from
/// the supervisor.
///
/// cordon-init mounts them `volatile`: without it, unmounting an overlay when the sandbox ends
/// syncs the upper layer's *whole* host filesystem (every dirty page of every process, then a
/// device flush), which cost 2–250 ms per run here depending on what else was writing. Instead
/// the supervisor syncs that filesystem itself after the run, only when the run wrote to an
/// upper layer, so held changes are on disk when `cordon run` returns, as before.
///
/// A volatile mount leaves a marker in overlayfs's scratch directory (`WORK/work`) that refuses
/// the next mount. After the sync the scratch directory is renamed aside (cheap) and deleted in
/// the background by a later run: deleting directories costs a synchronous discard per block on
/// filesystems mounted with `discard`. A scratch directory found before a run means the last run
/// ended without this (host crash, cordon killed): its changes may not all be on disk.
struct OverlayLayers: Sendable {
    struct Layer: Equatable, Sendable {
        var upper: String
        var work: String
        var scratch: String { work + "/work" }
    }

    var layers: [Layer]

    static let retiredPrefix = "retired."

    /// Moves aside scratch directories a previous run left; returns the upper layers whose
    /// scratch directory held a volatile marker (the run did not finish cleanly).
    func retireStaleScratch() -> [String] {
        layers.compactMap { layer in
            guard FileIO.kind(layer.scratch, followSymlinks: false) == .directory else { return nil }
            // overlayfs makes its directories mode 000: open the way to the marker first.
            _ = chmod(layer.scratch, 0o700)
            _ = chmod(layer.scratch + "/incompat", 0o700)
            let stale = FileIO.kind(Mount.volatileMarker(work: layer.work), followSymlinks: false) != .missing
            Self.retire(layer)
            return stale ? layer.upper : nil
        }
    }

    /// After init has exited (the overlays are unmounted): makes what the run wrote durable, then
    /// moves the scratch directories aside. `since` is the wall-clock time (seconds) taken before
    /// the sandbox started. Returns whether the run wrote beneath an upper layer.
    @discardableResult
    func settle(since: Int) -> Bool {
        // File times are coarse (a tick): anything within a second before the start counts as new.
        let threshold = since - 1
        var synced: Set<UInt64> = []
        var wrote = false
        for layer in layers {
            var st = stat()
            guard lstat(layer.upper, &st) == 0 else { continue }
            if !synced.contains(UInt64(st.st_dev)), Self.changed(layer.upper, since: threshold) {
                wrote = true
                if (try? FileSystemUsage.flushFileSystem(of: layer.upper)) != nil { synced.insert(UInt64(st.st_dev)) }
            }
            Self.retire(layer)
        }
        return wrote
    }

    /// Whether every upper layer is empty or missing (nothing held for review).
    func holdNothing() -> Bool {
        layers.allSatisfy { layer in
            guard let dir = opendir(layer.upper) else { return errno == ENOENT }
            defer { closedir(dir) }
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
                if name != [0x2E] && name != [0x2E, 0x2E] { return false }
            }
            return true
        }
    }

    /// Deletes scratch directories moved aside by earlier runs on another thread; what is left
    /// when cordon exits is deleted by a later run.
    func deleteRetiredInBackground() {
        Background.detached { [self] in deleteRetired() }
    }

    func deleteRetired() {
        for layer in layers {
            guard let names = DirectoryListing.names(at: layer.work) else { continue }
            for name in names where name.hasPrefix(Self.retiredPrefix) { Self.removeTree(layer.work + "/" + name) }
        }
    }

    private static func retire(_ layer: Layer) {
        let target = layer.work + "/" + retiredPrefix + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        _ = rename(layer.scratch, target)
    }

    /// Whether anything beneath `directory` changed at or after `seconds` (ctime: contents,
    /// metadata, entries added or removed). Stops at the first hit. The directory's own times do
    /// not count: a new sandbox's upper was made by this very run, and an empty upper holds
    /// nothing to make durable; what that misses is an entry of an earlier run removed from the
    /// upper's top level with nothing else changed, which after a host crash could come back
    /// inside the sandbox (never on the host).
    static func changed(_ directory: String, since seconds: Int) -> Bool {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return false }
        return changed(directoryFD: fd, since: seconds)
    }

    /// Takes ownership of `fd`.
    private static func changed(directoryFD fd: Int32, since seconds: Int) -> Bool {
        defer { close(fd) }
        guard let names = DirectoryListing.names(ofDirectory: fd) else { return false }
        for bytes in names {
            let name = bytes.map { CChar(bitPattern: $0) } + [0]
            var st = stat()
            guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            if st.st_ctim.tv_sec >= seconds { return true }
            if st.st_mode & S_IFMT == S_IFDIR {
                let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                if child >= 0, changed(directoryFD: child, since: seconds) { return true }
            }
        }
        return false
    }

    /// rm -r for a retired scratch directory, whose directories overlayfs made mode 000: each is
    /// opened up (by its owner, the caller) before it is read, through descriptors only.
    static func removeTree(_ path: String) {
        _ = try? AnchoredDirectory.removeTree(path)
    }
}
