public import CordonCore
public import CordonFS
public import CordonScan

/// One host tree a sandbox's changes return to: its workspace, or the host directory of a
/// `mounts[]` entry with `mode: overlay`. Each has its own upper layer, and its own journal,
/// record of cordon's host writes and snapshot, kept in the sandbox's state where the agent cannot
/// reach them. The gate checks every target with the same policy, scanner and traps (paths
/// relative to the target's root), and the applier applies each crash-safely on its own.
public struct SyncTarget: Sendable, Equatable {
    /// nil for the workspace.
    public var mount: SandboxRecord.OverlayMount?
    /// The host directory the changes apply to (the overlay's lower layer).
    public var host: String
    /// The overlay's upper layer: what the agent wrote there.
    public var upper: String
    /// The journal an interrupted apply to this target is recovered from.
    public var journal: String
    /// The host entries a sync of the running sandbox wrote here (`HostWrites`).
    public var hostWrites: String
    /// Where a sync of the running sandbox copies the files it checks and applies.
    public var snapshot: String

    public init(mount: SandboxRecord.OverlayMount?, host: String, upper: String, journal: String, hostWrites: String, snapshot: String) {
        self.mount = mount
        self.host = host
        self.upper = upper
        self.journal = journal
        self.hostWrites = hostWrites
        self.snapshot = snapshot
    }

    /// The workspace, then each overlay mount in the record's order. A mount's upper is
    /// `mounts/N/upper` in the sandbox's state directory; its journal, host-write record and
    /// snapshot go beside it.
    public static func all(record: SandboxRecord, layout: SandboxLayout) throws(CordonError) -> [SyncTarget] {
        var targets = [
            SyncTarget(
                mount: nil, host: record.workspace, upper: layout.upper, journal: layout.syncJournal, hostWrites: layout.hostWrites,
                snapshot: layout.snapshot)
        ]
        for mount in record.overlayMounts {
            // The layer is found by its place in the layout (`mounts/N/upper`) under this sandbox's
            // directory, not by the stored path (which names the state home as it was spelled then).
            let parts = mount.upper.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count >= 3, parts[parts.count - 1] == "upper", parts[parts.count - 3] == "mounts", let index = Int(parts[parts.count - 2]),
                String(index) == parts[parts.count - 2], index >= 0, mount.host.hasPrefix("/"), mount.sandbox.hasPrefix("/")
            else {
                throw CordonError(
                    .io, "\(layout.record) names an overlay mount cordon did not lay out (\(mount.host) → \(mount.sandbox), upper \(mount.upper))",
                    hint: "nothing was applied; the record is cordon's own: restore it, or remove the sandbox")
            }
            let directory = layout.directory + "/mounts/\(index)"
            targets.append(
                SyncTarget(
                    mount: mount, host: mount.host, upper: directory + "/upper", journal: directory + "/sync-journal.json",
                    hostWrites: directory + "/host-writes.json", snapshot: directory + "/snapshot"))
        }
        return targets
    }

    /// A path of this target as cordon shows it: relative to the workspace as always, or a mount's
    /// as the sandbox sees it (`/data/x` for `x` in the mount at `/data`). The two cannot be taken
    /// for each other: only a mount's start with `/`.
    public func shown(_ path: String) -> String {
        guard let mount else { return path }
        if path.isEmpty { return mount.sandbox }
        return mount.sandbox == "/" ? "/" + path : mount.sandbox + "/" + path
    }

    /// A finding about this target with its path as cordon shows it, in its fix too ("remove the
    /// secret from /data/creds.txt").
    public func shown(_ finding: Finding) -> Finding {
        guard mount != nil else { return finding }
        var shown = finding
        shown.path = self.shown(finding.path)
        if !finding.path.isEmpty { shown.fix = finding.fix.replacing(" \(finding.path) ", with: " \(shown.path) ", maxReplacements: 1) }
        return shown
    }

    /// How the target is named in messages: the workspace's host path, or `/data (host /home/u/data)`.
    public var label: String {
        guard let mount else { return host }
        return "\(mount.sandbox) (host \(host))"
    }

    /// The target's change set; empty when its upper layer does not exist (a mount the sandbox
    /// has not run with yet). `snapshot`, `limits`: as in `ChangeSet.read`.
    public func changeSet(snapshot: String? = nil, limits: SnapshotLimits = .unlimited) throws(CordonError) -> ChangeSet {
        if mount != nil, try FileInfo.lstat(upper) == nil { return ChangeSet(upper: upper, lower: host, changes: []) }
        return try ChangeSet.read(upper: upper, lower: host, snapshot: snapshot, limits: limits)
    }
}

extension GatePolicy {
    /// What a snapshot copies for a gate with this policy: no more than it reads.
    public var snapshotLimits: SnapshotLimits { SnapshotLimits(file: maxFileSize, total: maxTotalSize) }
}
