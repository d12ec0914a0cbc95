import CordonOS

#if canImport(Glibc)
    import Glibc
#endif

/// The file-write watcher's memory between two records: per path, which events and how many,
/// gathered over one window (about a second) and drained as one record per path. Bounded: past
/// `pathLimit` distinct paths in a window, further paths are only counted (one overflow record).
/// An agent writing one file 10,000 times in a second makes one record, not 10,000.
public struct WriteCoalescer: Sendable {
    struct Key: Hashable, Sendable {
        var layer: Int
        var path: [UInt8]
    }

    struct Entry: Sendable {
        var mask: UInt32
        var count: Int
        var time: String
    }

    /// What a window gathered about one path.
    public struct Drained: Sendable, Equatable {
        public var layer: Int
        public var path: [UInt8]
        public var events: [String]
        public var count: Int
        public var time: String
    }

    public let pathLimit: Int
    private var entries: [Key: Entry] = [:]
    private var order: [Key] = []
    /// Events on paths past the limit, per layer.
    private var overflow: [Int: Int] = [:]

    public init(pathLimit: Int = 1024) {
        self.pathLimit = pathLimit
    }

    public var isEmpty: Bool { entries.isEmpty && overflow.isEmpty }

    /// Longest path kept (bytes); a record shows less (`AuditRecord.textLimit`).
    public static let pathBytesLimit = 4096

    public mutating func add(layer: Int, path: [UInt8], mask: UInt32, time: @autoclosure () -> String) {
        let key = Key(layer: layer, path: path.count > Self.pathBytesLimit ? Array(path.prefix(Self.pathBytesLimit)) : path)
        if var entry = entries[key] {
            entry.mask |= mask
            entry.count += 1
            entries[key] = entry
        } else if entries.count < pathLimit {
            entries[key] = Entry(mask: mask, count: 1, time: time())
            order.append(key)
        } else {
            overflow[layer, default: 0] += 1
        }
    }

    /// The window's paths in the order first seen, and the events past the limit per layer;
    /// the coalescer is empty after.
    public mutating func drain() -> (paths: [Drained], overflow: [(layer: Int, count: Int)]) {
        let paths = order.compactMap { key in
            entries[key].map { Drained(layer: key.layer, path: key.path, events: Self.names(of: $0.mask), count: $0.count, time: $0.time) }
        }
        let over = overflow.keys.sorted().map { (layer: $0, count: overflow[$0] ?? 0) }
        entries = [:]
        order = []
        overflow = [:]
        return (paths, over)
    }

    /// The inotify events in `mask` by name, in a fixed order.
    public static func names(of mask: UInt32) -> [String] {
        let table: [(Int32, String)] = [
            (IN_CREATE, "create"), (IN_MOVED_TO, "moved_to"), (IN_MODIFY, "modify"), (IN_CLOSE_WRITE, "close_write"), (IN_ATTRIB, "attrib"),
            (IN_MOVED_FROM, "moved_from"), (IN_DELETE, "delete"),
        ]
        return table.filter { mask & UInt32($0.0) != 0 }.map(\.1) + (mask & UInt32(IN_ISDIR) != 0 ? ["directory"] : [])
    }
}
