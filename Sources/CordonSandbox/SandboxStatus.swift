public import CordonCore
import CordonFS
public import CordonOS
import FoundationEssentials
import Glibc

/// What `cordon ls` and `cordon status` say about one sandbox, read from its state directory:
/// the record, the lock, the event log, the network log, the cgroup and the upper layers.
///
/// Everything here was written by cordon, but into a directory that outlives its runs and that a
/// killed supervisor may have left half-written: each file is read bounded, a file that cannot
/// be read makes the sandbox `broken` (with the reason) rather than failing the listing, and the
/// text shown from it (names, paths, the command) is escaped by whoever prints it.
public struct SandboxStatus: Sendable {
    public enum State: String, Sendable {
        /// A supervisor holds the sandbox's lock.
        case running
        /// Its last run ended (or it never ran to its start).
        case stopped
        /// Its last start has no end in the event log and no supervisor holds the lock: the
        /// supervisor was killed (or the host went down) mid-run.
        case crashed
        /// Its record cannot be read: `problem` says why.
        case broken
    }

    public var name: String
    public var layout: SandboxLayout
    public var state: State
    /// Why the sandbox is `broken`.
    public var problem: String?
    public var record: SandboxRecord?
    /// The last run's start and end, from the event log.
    public var lastStart: SandboxEvent?
    public var lastExit: SandboxEvent.Exit?
    /// When the last run ended (its exit or failed set-up).
    public var lastEnded: String?
    /// The failed set-up that ended the last run.
    public var lastSetupError: String?
    /// Seconds since the last start, while running.
    public var uptimeSeconds: Int?
    /// The supervisor's process (running, when /proc/locks shows it).
    public var supervisor: Int32?
    /// The running sandbox's cgroup directories and what they use now.
    public var cgroups: [String] = []
    public var usage = Cgroup.Usage()
    /// Egress decisions in the network log (connections; DNS queries are not counted).
    public var allowed = 0
    public var refused = 0
    /// Connections waiting for an answer (running only; filled in by the caller, who can ask the
    /// supervisor).
    public var pendingApprovals: Int?
    /// The ports forwarded into it (`cordon port`), while running.
    public var ports: [PortForward] = []
    /// Changes held in the upper layers (nil: unknown, see `changesProblem`).
    public var changes: Int?
    /// Why `changes` is unknown: too many entries to count here, an unreadable upper…
    public var changesProblem: String?

    /// Whether the sandbox may hold something the user has not reviewed: changes counted, or
    /// not countable.
    public var holdsChanges: Bool { changes.map { $0 > 0 } ?? true }

    /// Upper-layer entries read at most for the change count (`cordon ls` stays quick on a
    /// sandbox that unpacked a large tree; `cordon rm` counts without a bound).
    public static let defaultEntryLimit = 20_000
    /// Bytes of the event and network logs read (their ends).
    static let logLimit = 4 << 20

    /// The status of the sandbox whose state is `layout`. `entryLimit` nil counts every change.
    /// `lockedByCaller`: the caller holds the sandbox's lock (to remove it, or change its upper):
    /// it is not running.
    public static func read(name: String, layout: SandboxLayout, entryLimit: Int? = defaultEntryLimit, lockedByCaller: Bool = false)
        -> SandboxStatus
    {
        var status = SandboxStatus(name: name, layout: layout, state: .stopped)
        let running = !lockedByCaller && layout.isRunning
        do throws(CordonError) {
            status.record = try layout.loadRecord()
        } catch {
            status.problem = error.message + (error.cause.map { ": " + $0 } ?? "")
            status.state = .broken
        }
        status.readEvents()
        if running {
            status.state = .running
            status.supervisor = FileLock.holder(of: layout.lock)
            if let start = status.lastStart, let started = try? Date(start.time, strategy: .iso8601) {
                status.uptimeSeconds = max(0, Int(Date().timeIntervalSince(started)))
            } else if let supervisor = status.supervisor {
                // Serving before its start event is written: the supervisor's own age.
                status.uptimeSeconds = ProcessStat.ageSeconds(supervisor)
            }
            status.ports = PortForward.recorded(layout)
            if let supervisor = status.supervisor {
                status.cgroups = Cgroup.directories(sandbox: name, supervisor: supervisor)
                status.usage = Cgroup.usage(of: status.cgroups)
            }
        } else if status.state != .broken, status.lastStart != nil, status.lastEnded == nil {
            status.state = .crashed
        }
        status.countNetwork()
        status.countChanges(entryLimit: entryLimit)
        return status
    }

    /// Every sandbox in `paths`' state directory, by name. A directory whose name is not a
    /// sandbox name (nothing cordon made) is left out.
    public static func all(paths: CordonPaths, entryLimit: Int? = defaultEntryLimit) -> [SandboxStatus] {
        let names = (DirectoryListing.names(at: paths.sandboxesDirectory) ?? []).filter { (try? SandboxName.validate($0)) != nil }.sorted()
        return names.compactMap { name in
            guard FileIO.kind(paths.sandboxDirectory(name), followSymlinks: false) == .directory else { return nil }
            return read(name: name, layout: SandboxLayout(paths: paths, name: name), entryLimit: entryLimit)
        }
    }

    /// The upper layers of the sandbox: the workspace's and its overlay mounts' (from the record,
    /// and any left in the state directory by runs of another profile).
    public var upperLayers: [(upper: String, lower: String?)] {
        var layers: [(upper: String, lower: String?)] = []
        if record?.mode != "unsafe" { layers.append((layout.upper, record?.workspace)) }
        let mounts = layout.directory + "/mounts"
        for index in (DirectoryListing.names(at: mounts) ?? []).sorted() where index.allSatisfy(\.isNumber) {
            let upper = mounts + "/" + index + "/upper"
            let lower = record?.overlayMounts.first { $0.upper == upper }?.host
            layers.append((upper, lower))
        }
        return layers
    }

    // MARK: Reading

    /// The last start in the event log and what ended it. An end event this reader does not
    /// know in full (`down`, `stop` of later versions) still ends the run.
    mutating func readEvents() {
        guard let bytes = Self.tail(layout.events, limit: Self.logLimit) else { return }
        struct Probe: Decodable { var event: String; var time: String }
        let decoder = JSONDecoder()
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            guard let probe = try? decoder.decode(Probe.self, from: Data(line)) else { continue }
            switch probe.event {
            case "start":
                lastStart = try? decoder.decode(SandboxEvent.self, from: Data(line))
                lastExit = nil
                lastEnded = nil
                lastSetupError = nil
            case "exit", "setup_failed", "down", "stop", "stopped":
                lastEnded = probe.time
                if let event = try? decoder.decode(SandboxEvent.self, from: Data(line)) {
                    switch event.kind {
                    case .exit(let exit): lastExit = exit
                    case .setupFailed(let error): lastSetupError = error
                    default: break
                    }
                }
            default:
                continue
            }
        }
    }

    /// Allowed and refused connections in the network log (its last `logLimit` bytes).
    mutating func countNetwork() {
        guard let bytes = Self.tail(layout.networkLog, limit: Self.logLimit) else { return }
        struct Probe: Decodable { var method: String; var decision: String }
        let decoder = JSONDecoder()
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            guard let entry = try? decoder.decode(Probe.self, from: Data(line)) else { continue }
            switch (entry.method, entry.decision) {
            case ("dns", _), ("udp", _): continue
            case (_, "allow"): allowed += 1
            case (_, "deny"): refused += 1
            default: continue
            }
        }
    }

    /// Changes in the upper layers, as `cordon diff` counts them (a file equal to the host's is
    /// none). An upper whose lower is unknown (a broken record) counts its top-level entries.
    mutating func countChanges(entryLimit: Int?) {
        var total = 0
        for (upper, lower) in upperLayers {
            guard FileIO.kind(upper, followSymlinks: false) != .missing else { continue }
            if let entryLimit, Self.entries(upper, limit: entryLimit) > entryLimit {
                changesProblem = "more than \(entryLimit) entries in \(upper): count them with `cordon diff \(name)`"
                changes = nil
                return
            }
            guard let lower else {
                total += DirectoryListing.names(at: upper)?.count ?? 1
                continue
            }
            do throws(CordonError) {
                total += try ChangeSet.read(upper: upper, lower: lower).changes.count
            } catch {
                changesProblem = error.message
                changes = nil
                return
            }
        }
        changes = total
    }

    /// Entries beneath `directory`, counted until `limit` is passed (no symlink followed).
    static func entries(_ directory: String, limit: Int) -> Int {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return 0 }
        var count = 0
        countEntries(fd, limit: limit, count: &count, depth: 0)
        return count
    }

    /// Takes ownership of `fd`.
    private static func countEntries(_ fd: Int32, limit: Int, count: inout Int, depth: Int) {
        defer { close(fd) }
        guard depth < 256, let names = DirectoryListing.names(ofDirectory: fd) else { return }
        for name in names {
            count += 1
            if count > limit { return }
            let cName = name.map { CChar(bitPattern: $0) } + [0]
            let child = openat(fd, cName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if child >= 0 { countEntries(child, limit: limit, count: &count, depth: depth + 1) }
            if count > limit { return }
        }
    }

    /// The last `limit` bytes of `path` from its first full line; nil when it cannot be read.
    static func tail(_ path: String, limit: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
        let start = max(0, Int(st.st_size) - limit)
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size) - start)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { buffer in pread(fd, buffer.baseAddress.map { $0 + done }, buffer.count - done, off_t(start + done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            done += n
        }
        bytes.removeSubrange(done...)
        if start > 0, let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) { bytes.removeSubrange(...newline) }
        return bytes
    }
}
