/// How much `ChangeSet.read` copies into a snapshot: the sync gate's size limits. A sparse file of
/// terabytes costs the agent no disk (and passes `resources.disk`, which counts allocated bytes),
/// but copied whole it would fill the host's disk under cordon's state before the gate blocked it
/// by size; so no copy goes further than the gate reads.
public struct SnapshotLimits: Sendable, Equatable {
    /// Bytes of one file: a larger file is copied to `file + 1` bytes only, which the gate blocks by
    /// size (`sync.max_file_size`) without reading.
    public var file: UInt64
    /// Bytes of added and modified files in all, counted as the gate counts them: once they pass
    /// it, no later file is copied (the gate blocks the whole set by size, `sync.max_total_size`,
    /// and reads none of them).
    public var total: UInt64

    public init(file: UInt64, total: UInt64) {
        self.file = file
        self.total = total
    }

    public static let unlimited = SnapshotLimits(file: .max, total: .max)

    /// The most bytes of one file a copy takes: one past the limit, so that the copy shows it was cut.
    var copyLimit: UInt64 { file == .max ? .max : file + 1 }
}
