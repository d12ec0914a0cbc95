@testable import CordonAudit
import CordonCore
@testable import CordonOS
import CordonTestSupport
import Glibc
import Testing

/// A sandbox state directory with its log, and an upper layer to watch.
final class WatchedUpper {
    let state: TempTree
    let upper: TempTree
    let log: AuditLog
    var layout: SandboxLayout { SandboxLayout(directory: state.root) }

    init() throws {
        state = try TempTree()
        upper = try TempTree()
        log = try AuditLog(layout: SandboxLayout(directory: state.root), sandbox: "box")
    }

    /// Watches the upper for the duration of `body`, then writes what was gathered.
    func watching(window: Double = 0.1, _ body: () throws -> Void) throws {
        let watcher = try FileWriteWatcher(layers: [.init(name: "workspace", path: upper.root)], log: log, window: window)
        watcher.start()
        try body()
        watcher.stop()
        log.flush()
    }

    var records: [JSONValue] {
        let text = (try? FileIO.readFile(layout.auditLog)) ?? []
        return text.split(separator: 0x0A).compactMap { try? JSONValue.parse(Array($0)) }
    }

    var writes: [(path: String, count: Int)] {
        records.compactMap { record in
            guard case .string("file_write")? = record["kind"], case .string(let path)? = record["path"], case .int(let count)? = record["count"]
            else { return nil }
            return (path, count)
        }
    }
}

/// The file-write watcher on a real directory through inotify: writes, new directories (and what
/// was made in them before their watch), hostile names; and its bound on records.
@Suite(.timeLimit(.minutes(1)))
struct FileWriteWatcherTests {
    @Test func writesAndNewDirectoriesAreRecorded() throws {
        let w = try WatchedUpper()
        w.upper.write("existing/old.txt", "x")
        try w.watching {
            w.upper.write("a.txt", "hello")
            w.upper.write("existing/old.txt", "changed")
            // A tree made at once: what lands in it before its watch is read when the watch is added.
            w.upper.write("new/deeper/b.txt", "b")
            let hostile = Array((w.upper.root + "/c\u{1B}[2J\u{FF}.txt").utf8) + [0xFE, 0]
            let made = hostile.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_WRONLY | O_CREAT, 0o644) } }
            #expect(made >= 0)
            close(made)
        }
        let paths = Set(w.writes.map(\.path))
        #expect(paths.isSuperset(of: ["a.txt", "existing/old.txt", "new", "new/deeper", "new/deeper/b.txt"]))
        #expect(paths.contains("c\u{1B}[2J\u{FF}.txt\\xFE"))
        // Written afterwards, through the new directory's own watch.
        try w.watching { w.upper.write("new/deeper/later.txt", "l") }
        #expect(w.writes.contains { $0.path == "new/deeper/later.txt" })
    }

    /// A watched directory renamed: writes in it are recorded under its new name.
    @Test func aRenamedDirectoryIsFollowedByName() throws {
        let w = try WatchedUpper()
        w.upper.write("d/sub/f", "1")
        try w.watching {
            #expect(rename(w.upper.path("d"), w.upper.path("e")) == 0)
            // Seen by the watcher before the next write (the rename's event re-reads the tree).
            let deadline = WallClock.monotonic() + 20
            while !w.writes.contains(where: { $0.path == "e" }) && WallClock.monotonic() < deadline { usleep(20_000) }
            w.upper.write("e/sub/g", "2")
        }
        #expect(w.writes.contains { $0.path == "e/sub/g" }, "\(w.writes)")
    }

    /// A tree deeper than the watcher follows costs it one overflow record, not a descriptor or
    /// a path per level.
    @Test func aTooDeepTreeIsBounded() throws {
        let w = try WatchedUpper()
        w.upper.mkdir(Array(repeating: "d", count: FileWriteWatcher.depthLimit + 20).joined(separator: "/"))
        try w.watching {}
        #expect(w.records.filter { $0["kind"] == .string("file_write_overflow") }.count == 1)
    }

    /// 10,000 writes to one file make a handful of records (one per path per window), not 10,000.
    @Test func manyWritesToOneFileAreCoalesced() throws {
        let w = try WatchedUpper()
        try w.watching(window: 1) {
            let fd = open(w.upper.path("hot.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            #expect(fd >= 0)
            var byte: UInt8 = 0x41
            for _ in 0..<10_000 { _ = write(fd, &byte, 1) }
            close(fd)
        }
        let writes = w.writes.filter { $0.path == "hot.txt" }
        #expect(!writes.isEmpty)
        #expect(writes.count <= 10)
        #expect(w.records.count <= 12)
    }

    /// A directory the agent swaps for a symlink is not followed: nothing outside the layer is watched.
    @Test func aSymlinkedDirectoryIsNotFollowed() throws {
        let w = try WatchedUpper()
        let outside = try TempTree()
        // There when the watch starts (the walk of what the upper holds), and made while it runs.
        w.upper.symlink("link", to: outside.root)
        try w.watching {
            w.upper.symlink("later", to: outside.root)
            outside.write("secret.txt", "s")
        }
        #expect(!w.writes.contains { $0.path.contains("secret") })
    }
}

struct WriteCoalescerTests {
    @Test func onePathIsOneRecordPerWindow() {
        var coalescer = WriteCoalescer()
        for _ in 0..<10_000 { coalescer.add(layer: 0, path: Array("f".utf8), mask: UInt32(IN_MODIFY), time: "t") }
        coalescer.add(layer: 0, path: Array("f".utf8), mask: UInt32(IN_CLOSE_WRITE), time: "t")
        let (paths, overflow) = coalescer.drain()
        #expect(paths.count == 1)
        #expect(paths.first?.path == Array("f".utf8) && paths.first?.events == ["modify", "close_write"] && paths.first?.count == 10_001)
        #expect(overflow.isEmpty)
        #expect(coalescer.isEmpty)
    }

    @Test func pathsPastTheLimitAreCounted() {
        var coalescer = WriteCoalescer(pathLimit: 3)
        for index in 0..<10 { coalescer.add(layer: 1, path: Array("f\(index)".utf8), mask: UInt32(IN_CREATE), time: "t") }
        let (paths, overflow) = coalescer.drain()
        #expect(paths.map(\.path) == ["f0", "f1", "f2"].map { Array($0.utf8) })
        #expect(overflow.count == 1 && overflow[0].layer == 1 && overflow[0].count == 7)
    }
}

struct InotifyTests {
    @Test func packedEventsParse() {
        func event(_ wd: Int32, _ mask: UInt32, _ name: String, padded: Int) -> [UInt8] {
            var bytes: [UInt8] = []
            for value in [UInt32(bitPattern: wd), mask, 0, UInt32(padded)] { bytes += withUnsafeBytes(of: value.littleEndian, Array.init) }
            return bytes + Array(name.utf8) + [UInt8](repeating: 0, count: padded - name.utf8.count)
        }
        let bytes = event(1, UInt32(IN_CREATE), "a.txt", padded: 16) + event(2, UInt32(IN_MODIFY), "", padded: 0) + [1, 2, 3]
        #expect(
            Inotify.parse(bytes[...]) == [
                .init(watch: 1, mask: UInt32(IN_CREATE), name: Array("a.txt".utf8)), .init(watch: 2, mask: UInt32(IN_MODIFY), name: []),
            ])
    }
}
