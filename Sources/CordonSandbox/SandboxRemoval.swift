public import CordonCore
import CordonOS
import Glibc

/// Removes a sandbox: its state directory (upper layers included), its cgroup leftovers and its
/// uid claim. Shared by `cordon rm` and `cordon prune`.
///
/// The directory goes through `AnchoredDirectory.removeTree`: descriptors only, no symlink
/// followed, each directory opened up (chmod through its descriptor) as it is reached, so the
/// mode-000 directories overlayfs leaves in the work dirs, and read-only directories the agent
/// made in its upper layer, do not stop a user who is not root.
public enum SandboxRemoval {
    public struct Removed: Sendable, Equatable {
        public var name: String
        /// Changes that were dropped with it (`--discard`).
        public var discardedChanges: Int
        /// The uid block given back (cordon run as root).
        public var releasedBlock: UInt32?
        /// cgroup directories of killed runs that were removed.
        public var cgroups: [String]
    }

    /// Removes the sandbox `name` whose state is `layout`. Refuses while it runs (or a sync holds
    /// it), and while it holds changes unless `discard`: counted without a bound here, and a
    /// change set that cannot be read counts as changes.
    public static func remove(name: String, layout: SandboxLayout, discard: Bool) throws(CordonError) -> Removed {
        // Held for the whole removal: no run starts it and no sync reads it meanwhile.
        guard let running = try SandboxLayout.lockNow(layout.lock, exclusive: true) else {
            throw CordonError(.alreadyExists, "sandbox \(name) is running", hint: "stop it first (`cordon down \(name)`, or end its `cordon run`)")
        }
        defer { close(running) }
        guard let sync = try SandboxLayout.lockNow(layout.syncLock, exclusive: true) else {
            throw CordonError(.alreadyExists, "a sync of sandbox \(name) is in progress", hint: "run the command again when it has finished")
        }
        defer { close(sync) }
        let status = SandboxStatus.read(name: name, layout: layout, entryLimit: nil, lockedByCaller: true)
        if !discard && status.holdsChanges {
            let what =
                status.changes.map { "\($0) unsynced change\($0 == 1 ? "" : "s")" } ?? "changes that cannot be counted (\(status.changesProblem ?? "unknown"))"
            throw CordonError(
                .policyDenied, "sandbox \(name) holds \(what)",
                hint: "review them with `cordon diff \(name)` and apply them with `cordon sync \(name)`, or drop them with `cordon rm \(name) --discard`")
        }
        let block = IdentityRange.recordedBlock(directory: layout.directory)
        let cgroups = Cgroup.directories(sandbox: name, supervisor: nil)
        try removeDirectory(layout.directory)
        let released = IdentityRange.release(directory: layout.directory, block: block)
        let left = Set(Cgroup.removeLeftovers(cgroups))
        return Removed(name: name, discardedChanges: status.changes ?? 0, releasedBlock: released, cgroups: cgroups.filter { !left.contains($0) })
    }

    /// Removes a sandbox's state directory (a second pass for what a background deletion of
    /// retired scratch directories raced away under the first).
    static func removeDirectory(_ directory: String) throws(CordonError) {
        do throws(CordonError) { try AnchoredDirectory.removeTree(directory) } catch {
            guard FileIO.kind(directory, followSymlinks: false) != .missing else { return }
            try AnchoredDirectory.removeTree(directory)
        }
    }
}
