public import CordonCore
public import CordonFS
public import CordonOS
public import CordonScan
import FoundationEssentials
import Glibc

/// The host entries cordon itself wrote while applying a sandbox's changes, each as it was right
/// after the write (nil: cordon deleted it).
///
/// A running sandbox's upper layer keeps what a sync applied (it is mounted), so a later sync
/// reads the same change again, finds the host entry changed after the sandbox started and
/// would hold it as a conflict. A `conflict-host-changed` finding about an entry still exactly
/// as cordon left it (same inode, size, mode, times) is about cordon's own write and is dropped;
/// the moment the user touches the entry it is a conflict again. yolo's rounds keep the record
/// in memory; `cordon sync` keeps it in the sandbox's state (`HostWrites.load`/`save`), which the
/// agent cannot reach.
public struct HostWrites: Sendable {
    public private(set) var entries: [String: FileInfo?] = [:]

    public init() {}

    /// Records the host entries at `paths` (relative to `workspace`) as they are now.
    public mutating func record(_ paths: [String], workspace: String) throws(CordonError) {
        guard !paths.isEmpty else { return }
        let host = try AnchoredDirectory(workspace)
        for path in paths { entries[path] = host.info(path) }
    }

    /// Whether the host entry at `path` is still exactly as cordon left it.
    public func isOwn(_ path: String, host: AnchoredDirectory) -> Bool {
        guard let recorded = entries[path] else { return false }
        return host.info(path) == recorded
    }

    /// Removes the conflicts that are cordon's own writes from `findings`.
    public func droppingOwnConflicts(_ findings: [Finding], workspace: String) -> [Finding] {
        guard !entries.isEmpty, let host = try? AnchoredDirectory(workspace) else { return findings }
        return findings.filter { !($0.ruleID == "conflict-host-changed" && isOwn($0.path, host: host)) }
    }

    public mutating func removeAll() {
        entries = [:]
    }

    // MARK: The record in a sandbox's state

    private struct Stored: Codable {
        var version = 1
        var entries: [String: Entry?]
    }

    private struct Entry: Codable, Equatable {
        var type: FileInfo.FileType
        var mode: UInt32
        var size: UInt64
        var modified: Double
        var changed: Double
        var device: UInt64
        var inode: UInt64
        var linkCount: UInt64

        init(_ info: FileInfo) {
            (type, mode, size, modified, changed) = (info.type, info.mode, info.size, info.modified, info.changed)
            (device, inode, linkCount) = (info.device, info.inode, info.linkCount)
        }

        var info: FileInfo {
            FileInfo(type: type, mode: mode, size: size, linkCount: linkCount, modified: modified, changed: changed, device: device, inode: inode)
        }
    }

    /// The record at `path`; empty when there is none or it cannot be read (every change of the
    /// host is then a conflict again: the safe side).
    public static func load(from path: String) -> HostWrites {
        guard let bytes = try? FileIO.readFile(path, limit: 64 << 20),
            let stored = try? JSONDecoder().decode(Stored.self, from: Data(bytes)), stored.version == 1
        else { return HostWrites() }
        var writes = HostWrites()
        for (key, entry) in stored.entries { writes.entries[key] = entry.map(\.info) }
        return writes
    }

    /// Writes the record to `path` (atomically), or removes it when there is nothing to keep.
    public func save(to path: String) throws(CordonError) {
        if entries.isEmpty {
            _ = unlink(path)
            return
        }
        let stored = Stored(entries: entries.mapValues { $0.map(Entry.init) })
        do {
            let bytes = [UInt8](try JSONEncoder().encode(stored))
            try FileIO.writeAtomically(path, bytes, mode: 0o600, durable: false)
        } catch {
            throw CordonError(.io, "cannot record the host files cordon wrote in \(path)", cause: "\(error)")
        }
    }
}
