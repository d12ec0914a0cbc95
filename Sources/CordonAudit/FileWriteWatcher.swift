public import CordonCore
import CordonOS
import Dispatch

#if canImport(Glibc)
    import Glibc
#endif

/// Records the writes made in a sandbox's upper layers while it runs (`file_write` records),
/// through inotify: a watch on every directory of each upper, new directories watched as they
/// appear (and read once, for what was made in them before their watch). inotify needs no
/// privilege, so a rootless cordon records as one run as root does; the events are those the
/// overlay makes in the upper (writes, copy-ups, creations, removals).
///
/// fanotify is not used: its only recursive form marks the whole filesystem holding the upper
/// (FAN_MARK_FILESYSTEM, root only), which reports every write on the host's filesystem by
/// handle, to be resolved and filtered; inotify sees the same writes of the upper, rootless too.
///
/// Names are the agent's: kept as bytes, resolved only beneath each layer's own descriptor
/// without following symlinks. Bounded: at most `watchLimit` directories (then one overflow
/// record), one record per path per window (`WriteCoalescer`).
public final class FileWriteWatcher: @unchecked Sendable {
    /// An upper layer: what the records call it ("workspace", a mount's sandbox path) and where it is.
    public struct Layer: Sendable {
        public var name: String
        public var path: String

        public init(name: String, path: String) {
            self.name = name
            self.path = path
        }
    }

    public static let watchLimit = 8192
    /// Deepest directory watched beneath a layer (each level holds a descriptor while it is read).
    public static let depthLimit = 128

    private let layers: [Layer]
    private let log: AuditLog
    private let window: Double
    private let inotify: Inotify
    private let stopPipe: (read: Int32, write: Int32)
    private let finished = DispatchSemaphore(value: 0)
    // Touched by `start` before the thread runs, then only by the thread.
    private var roots: [Int32] = []
    /// A watched directory: its layer, the watch of the directory holding it (nil: the layer's
    /// root) and its name there. Paths are rebuilt from these, so memory grows with the names,
    /// not with the depth (a deep tree of long names would otherwise hold its prefixes per level).
    private struct Watch {
        var layer: Int
        var parent: Int32?
        var name: [UInt8]
    }

    private var watches: [Int32: Watch] = [:]
    private var coalescer = WriteCoalescer()
    private var overLimit: [Int: Int] = [:]
    private var running = false
    /// With a start after the sandbox's: entries of the layers changed at or after this time
    /// (seconds since the epoch) are recorded when the watches are placed.
    private let reportSince: Int?

    /// Watches `layers` (the directories must exist) and records into `log`; the watches are in
    /// place when this returns (a write after it is seen). `reportSince`: what the layers hold
    /// that changed since then is recorded now (a watcher started after the sandbox).
    public init(layers: [Layer], log: AuditLog, window: Double = 1, reportSince: Int? = nil) throws(CordonError) {
        self.reportSince = reportSince
        self.layers = layers
        self.log = log
        self.window = window
        do throws(SystemError) { inotify = try Inotify() } catch {
            throw CordonError(.io, "cannot watch the upper layers for the audit log", cause: error.description)
        }
        do throws(SystemError) {
            let pair = try FileDescriptor.pipe()
            let readEnd = pair.first
            let writeEnd = pair.second
            stopPipe = (readEnd.take(), writeEnd.take())
        } catch {
            throw CordonError(.io, "cannot watch the upper layers for the audit log", cause: error.description)
        }
        for (index, layer) in layers.enumerated() {
            let fd = Glibc.open(layer.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            roots.append(fd)
            if fd >= 0 { watchTree(layer: index, parent: nil, name: [], path: [], fd: fd, report: false, since: reportSince) }
        }
    }

    deinit {
        for fd in roots where fd >= 0 { close(fd) }
        close(stopPipe.read)
        close(stopPipe.write)
    }

    /// Starts recording on a thread of its own.
    public func start() {
        running = true
        if OSThread.start({ [self] in loop() }) == nil { running = false }
    }

    /// Records what is still gathered and stops.
    public func stop() {
        guard running else { return }
        running = false
        var byte: UInt8 = 1
        _ = write(stopPipe.write, &byte, 1)
        finished.wait()
    }

    private func loop() {
        defer { finished.signal() }
        var deadline = WallClock.monotonic() + window
        while true {
            var fds = [pollfd(fd: inotify.raw, events: Int16(POLLIN), revents: 0), pollfd(fd: stopPipe.read, events: Int16(POLLIN), revents: 0)]
            let wait = max(0, Int32((deadline - WallClock.monotonic()) * 1000))
            let ready = poll(&fds, 2, coalescer.isEmpty ? -1 : wait)
            if ready < 0 && errno != EINTR { break }
            if fds[0].revents & Int16(POLLIN) != 0 { readEvents() }
            if fds[1].revents != 0 { break }
            if WallClock.monotonic() >= deadline || coalescer.isEmpty {
                if !coalescer.isEmpty { emit() }
                deadline = WallClock.monotonic() + window
            }
        }
        readEvents()
        emit()
    }

    private func readEvents() {
        while true {
            let events: [Inotify.Event]
            do throws(SystemError) { events = try inotify.read() } catch { return }
            if events.isEmpty { return }
            for event in events { handle(event) }
        }
    }

    private func handle(_ event: Inotify.Event) {
        if event.isOverflow {
            for index in layers.indices { overLimit[index, default: 0] += 1 }
            log.post(.fileWriteOverflow(layer: "*", reason: "the kernel's event queue overflowed: some writes were not seen", count: 1))
            return
        }
        guard let watched = watches[event.watch] else { return }
        if event.isIgnored {
            watches[event.watch] = nil
            return
        }
        guard let directory = path(of: event.watch) else { return }
        let path = event.name.isEmpty ? directory : (directory.isEmpty ? event.name : directory + [0x2F] + event.name)
        coalescer.add(layer: watched.layer, path: path, mask: event.mask, time: WallClock.rfc3339())
        // A directory made or moved in: watch it and what it holds already.
        if event.isDirectory && event.mask & UInt32(IN_CREATE | IN_MOVED_TO) != 0 {
            guard let fd = openDirectory(layer: watched.layer, path: path) else { return }
            defer { close(fd) }
            let depth = path.split(separator: 0x2F).count
            watchTree(layer: watched.layer, parent: event.watch, name: event.name, path: path, fd: fd, report: true, depth: depth)
        }
    }

    /// The path of the directory watched as `wd`, relative to its layer (nil: not watched).
    private func path(of wd: Int32) -> [UInt8]? {
        var names: [[UInt8]] = []
        var current: Int32? = wd
        while let watch = current {
            guard let entry = watches[watch], names.count <= Self.depthLimit else { return nil }
            if entry.parent != nil { names.append(entry.name) }
            current = entry.parent
        }
        return Array(names.reversed().joined(separator: [0x2F]))
    }

    /// Opens the directory `path` beneath the layer's root, one component at a time, never
    /// following a symlink (the agent may swap a directory for one at any moment).
    private func openDirectory(layer: Int, path: [UInt8]) -> Int32? {
        guard roots[layer] >= 0 else { return nil }
        var current = dup(roots[layer])
        guard current >= 0 else { return nil }
        for component in path.split(separator: 0x2F, omittingEmptySubsequences: true) {
            let next = RawName(bytes: Array(component)).open(in: current, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            close(current)
            guard next >= 0 else { return nil }
            current = next
        }
        return current
    }

    /// Watches the directory open as `fd` and every directory beneath it; with `report`, the
    /// entries found are recorded as made (they were, before the watch could see them).
    /// `report`: record every entry found (a directory that appeared while watching); `since`:
    /// record the entries changed since then (the initial watches of a late start).
    private func watchTree(layer: Int, parent: Int32?, name: [UInt8], path: [UInt8], fd: Int32, report: Bool, since: Int? = nil, depth: Int = 0) {
        guard watches.count < Self.watchLimit, depth < Self.depthLimit else {
            overLimit[layer, default: 0] += 1
            if overLimit[layer] == 1 {
                let reason = "more than \(Self.watchLimit) directories, or one deeper than \(Self.depthLimit): writes in those are not recorded"
                log.post(.fileWriteOverflow(layer: layers[layer].name, reason: reason, count: 1))
            }
            return
        }
        guard let wd = try? inotify.watch(directory: fd, mask: Inotify.writeEvents) else { return }
        watches[wd] = Watch(layer: layer, parent: parent, name: name)
        for name in DirectoryListing.names(ofDirectory: fd) ?? [] {
            let child = path.isEmpty ? name : path + [0x2F] + name
            let sub = RawName(bytes: name).open(in: fd, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            let changedSince = since.map { since in RawName(bytes: name).stat(in: fd).map { $0.st_ctim.tv_sec >= since } ?? false } ?? false
            if report || changedSince {
                coalescer.add(layer: layer, path: child, mask: UInt32(IN_CREATE | (sub >= 0 ? IN_ISDIR : 0)), time: WallClock.rfc3339())
            }
            guard sub >= 0 else { continue }
            watchTree(layer: layer, parent: wd, name: name, path: child, fd: sub, report: report, since: since, depth: depth + 1)
            close(sub)
        }
    }

    /// Records what beneath `layers` changed at or after `since` (seconds since the epoch),
    /// without watching: for a run that ended before its watcher started. What was made and
    /// removed again in between is not seen. Bounded like the watcher (`watchLimit` directories,
    /// `depthLimit` levels, the coalescer's paths), no symlink followed.
    public static func recordChanged(layers: [Layer], log: AuditLog, since: Int) {
        var coalescer = WriteCoalescer()
        var directories = 0
        func walk(layer: Int, fd: Int32, path: [UInt8], depth: Int) {
            directories += 1
            guard directories <= watchLimit, depth < depthLimit else { return }
            for name in DirectoryListing.names(ofDirectory: fd) ?? [] {
                let raw = RawName(bytes: name)
                guard let st = raw.stat(in: fd) else { continue }
                let child = path.isEmpty ? name : path + [0x2F] + name
                let isDirectory = st.st_mode & S_IFMT == S_IFDIR
                if st.st_ctim.tv_sec >= since {
                    coalescer.add(layer: layer, path: child, mask: UInt32(IN_CREATE | (isDirectory ? IN_ISDIR : 0)), time: WallClock.rfc3339())
                }
                guard isDirectory else { continue }
                let sub = raw.open(in: fd, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard sub >= 0 else { continue }
                walk(layer: layer, fd: sub, path: child, depth: depth + 1)
                close(sub)
            }
        }
        for (index, layer) in layers.enumerated() {
            let fd = Glibc.open(layer.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { continue }
            walk(layer: index, fd: fd, path: [], depth: 0)
            close(fd)
        }
        let (paths, overflow) = coalescer.drain()
        for path in paths {
            log.post(.fileWrite(layer: layers[path.layer].name, path: path.path, events: path.events, count: path.count, time: path.time))
        }
        for (layer, count) in overflow {
            log.post(.fileWriteOverflow(layer: layers[layer].name, reason: "more than \(coalescer.pathLimit) paths written", count: count))
        }
    }

    private func emit() {
        let (paths, overflow) = coalescer.drain()
        for path in paths {
            log.post(.fileWrite(layer: layers[path.layer].name, path: path.path, events: path.events, count: path.count, time: path.time))
        }
        for (layer, count) in overflow {
            log.post(.fileWriteOverflow(layer: layers[layer].name, reason: "more than \(coalescer.pathLimit) paths written in one window", count: count))
        }
    }
}
