import CordonConfig
import CordonCore
import CordonIsolation
import CordonOS
import Glibc
import Synchronization

/// `resources.disk` and `resources.inodes`, enforced while the sandbox runs: a watched limit.
///
/// The overlay upper layers (the workspace's and the overlay mounts') live on the host's file
/// system in cordon's state dir, where no kernel limit applies to them. A thread of the supervisor
/// measures them (allocated bytes and entries) every `period` seconds (0.1 s), more often when
/// they grow fast towards a limit, less often when a measurement is slow (never more than about
/// a fifth of one core; skipped while init is alone in the sandbox); once either limit is reached
/// the sandbox is frozen — its cgroup frozen (cgroup v2), else every process of its PID namespace
/// stopped — the event logged, the user told, and the supervisor's wait loop woken
/// (`wakeDescriptor`) so that Ctrl-C or a signal to cordon ends the sandbox. Nothing it wrote is
/// deleted: `cordon diff` shows it. What the agent writes between two measurements is the slack:
/// one period's worth at the rate the host's disk takes it. A single file cannot pass the limit
/// (RLIMIT_FSIZE, set by the plan).
final class DiskWatch: Sendable {
    struct Limits: Sendable, Equatable {
        var bytes: UInt64
        var inodes: UInt64
    }

    struct Usage: Sendable, Equatable {
        var bytes: UInt64 = 0
        var inodes: UInt64 = 0
        /// Why part of the tree could not be measured (nested deeper than `maxDepth`, or a
        /// directory its owner cannot read): counts as over the limit, fail closed.
        var unmeasured: String?
    }

    /// What tripped the limit, for the run's summary.
    struct Trip: Sendable, Equatable {
        var usage: Usage
        var limits: Limits
        var frozenBy: String
        var reason: String
    }

    static let maxDepth = 256
    /// The shortest wait between measurements, seconds.
    static let defaultPeriod = 0.1

    let uppers: [String]
    let limits: Limits
    let period: Double
    private let stopPipe: (read: Int32, write: Int32)
    private let wakePipe: (read: Int32, write: Int32)
    private let tripped = Mutex<Trip?>(nil)
    private let thread = Mutex<Background?>(nil)

    init?(uppers: [String], limits: Limits, period: Double = DiskWatch.defaultPeriod) {
        var stop: [Int32] = [-1, -1], wake: [Int32] = [-1, -1]
        guard pipe(&stop) == 0 else { return nil }
        guard pipe(&wake) == 0 else {
            close(stop[0]); close(stop[1])
            return nil
        }
        for fd in stop + wake {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        }
        self.uppers = uppers
        self.limits = limits
        self.period = period
        self.stopPipe = (stop[0], stop[1])
        self.wakePipe = (wake[0], wake[1])
    }

    deinit {
        for fd in [stopPipe.read, stopPipe.write, wakePipe.read, wakePipe.write] { close(fd) }
    }

    /// Readable once the limit was reached and the sandbox frozen.
    var wakeDescriptor: Int32 { wakePipe.read }

    var trip: Trip? { tripped.withLock { $0 } }

    /// Starts measuring. `freeze` stops the sandbox and says how ("cgroup freezer", "SIGSTOP");
    /// `report` tells the user and the event log (called once, from the watcher's thread).
    /// `initPID` and `sandboxPaths` (the writable overlays' paths inside): files the sandbox's
    /// processes deleted there but hold open still take space in the upper's file system, and
    /// count. `emptyAtStart`: the upper layers held nothing when the sandbox was made, so the
    /// first measurement is taken as read (zero, now) instead of made: made before the agent's
    /// first instruction it can only read zero, and it took a CPU from the sandbox's start-up.
    func start(
        initPID: Int32, sandboxPaths: [String], emptyAtStart: Bool = false, freeze: @escaping @Sendable () throws(SystemError) -> String,
        report: @escaping @Sendable (Trip) -> Void
    ) {
        let job = Background { [self] () throws(CordonError) in
            var previous: (usage: Usage, at: Double)?
            if emptyAtStart {
                // What that first measurement would have read, and when: the next one has a rate
                // to shorten its wait by, exactly as if it had been taken.
                previous = (Usage(), WallClock.monotonic())
                if waitForStop(seconds: period) { return }
            }
            while true {
                let began = WallClock.monotonic()
                // Nothing in the sandbox but its init (an `up` sandbox between commands): nothing
                // can write to the upper layers or hold a file there, so a measurement would read
                // what the last one did. Checked at the same cadence: a command started meanwhile
                // is measured at the next wake, as it would have been.
                if let last = previous, NamespaceStopper.isAlone(initPID: initPID) {
                    previous = (last.usage, began)
                    if waitForStop(seconds: period) { return }
                    continue
                }
                var usage = Self.measure(uppers)
                Self.addOpenDeleted(initPID: initPID, sandboxPaths: sandboxPaths, to: &usage)
                if let reason = Self.excess(usage, limits) {
                    let how: String
                    do throws(SystemError) { how = try freeze() } catch { how = "not frozen: \(error)" }
                    let trip = Trip(usage: usage, limits: limits, frozenBy: how, reason: reason)
                    tripped.withLock { $0 = trip }
                    report(trip)
                    var byte: UInt8 = 1
                    _ = write(wakePipe.write, &byte, 1)
                    return
                }
                let spent = WallClock.monotonic() - began
                let wait = Self.nextWait(period: period, spent: spent, usage: usage, previous: previous, now: began, limits: limits)
                previous = (usage, began)
                if waitForStop(seconds: wait) { return }
            }
        }
        thread.withLock { $0 = job }
    }

    /// Stops measuring and waits for the thread.
    func stop() {
        var byte: UInt8 = 1
        _ = write(stopPipe.write, &byte, 1)
        let job = thread.withLock { job in
            defer { job = nil }; return job
        }
        try? job?.wait()
    }

    private func waitForStop(seconds: Double) -> Bool {
        var p = pollfd(fd: stopPipe.read, events: Int16(POLLIN), revents: 0)
        let rc = poll(&p, 1, Int32(max(1, min(seconds, 60) * 1000)))
        return rc > 0
    }

    /// How long to wait before the next measurement: `period`, shorter when the usage grows
    /// fast enough to reach a limit sooner (down to 10 ms: half the time the last rate needs to
    /// reach it), but never less than four times what a measurement takes (at most a fifth of
    /// one core).
    static func nextWait(period: Double, spent: Double, usage: Usage, previous: (usage: Usage, at: Double)?, now: Double, limits: Limits) -> Double {
        var wait = period
        if let previous, now > previous.at {
            let elapsed = now - previous.at
            for (current, before, limit) in [(usage.bytes, previous.usage.bytes, limits.bytes), (usage.inodes, previous.usage.inodes, limits.inodes)]
            where current > before && limit > current {
                let rate = Double(current - before) / elapsed
                wait = min(wait, Double(limit - current) / rate / 2)
            }
        }
        return max(wait, 0.01, spent * 4)
    }

    /// Why `usage` is over `limits` (nil when it is not).
    static func excess(_ usage: Usage, _ limits: Limits) -> String? {
        if let unmeasured = usage.unmeasured { return "\(unmeasured): not measured, so refused as over the limit" }
        if usage.bytes >= limits.bytes {
            return "\(mebibytes(usage.bytes)) written, limit \(mebibytes(limits.bytes)) (resources.disk)"
        }
        if usage.inodes >= limits.inodes {
            return "\(usage.inodes) files and directories, limit \(limits.inodes) (resources.inodes)"
        }
        return nil
    }

    static func mebibytes(_ bytes: UInt64) -> String {
        let tenths = (bytes * 10 + (1 << 19)) >> 20
        return "\(tenths / 10).\(tenths % 10) MiB"
    }

    /// Allocated bytes and entries beneath the directories (`FileSystemUsage.measure`).
    static func measure(_ directories: [String]) -> Usage {
        let measured = FileSystemUsage.measure(directories, maxDepth: maxDepth)
        return Usage(bytes: measured.bytes, inodes: measured.inodes, unmeasured: measured.unmeasured)
    }

    /// Adds the regular files that processes of the sandbox's PID namespace hold open after
    /// deleting them beneath `sandboxPaths` (an upper layer's entry is gone, its blocks are not).
    static func addOpenDeleted(initPID: Int32, sandboxPaths: [String], to usage: inout Usage) {
        let held = FileSystemUsage.openDeleted(inNamespaceOf: initPID, beneath: sandboxPaths)
        usage.bytes &+= held.bytes
        usage.inodes &+= held.inodes
    }

    /// Freezes the sandbox: its cgroup when that can be frozen, else every process of its PID
    /// namespace stopped. Returns how, for the message and the event.
    static func freeze(cgroup: Cgroup?, initPID: Int32) throws(SystemError) -> String {
        if let cgroup, cgroup.canFreeze {
            do throws(SystemError) {
                try cgroup.freeze()
                return "cgroup freezer"
            } catch {
                // Fall through: stopping the processes one by one still holds.
            }
        }
        do throws(SystemError) {
            try NamespaceStopper.stopAll(initPID: initPID)
            return "SIGSTOP"
        } catch {
            // Fail closed: a sandbox that cannot be frozen is ended (its whole PID namespace goes
            // with its init).
            do throws(CordonError) {
                let fd = try ProcessDescriptor.open(pid: initPID)
                defer { close(fd) }
                try ProcessDescriptor.signal(fd, SIGKILL)
            } catch _ {
                throw error
            }
            return "killed: it could not be frozen (\(error))"
        }
    }

    /// The message the user reads when the limit is reached.
    static func message(name: String, trip: Trip, supervisor: Int32) -> String {
        let frozen =
            trip.frozenBy.hasPrefix("not frozen")
            ? "cordon could NOT freeze it (\(trip.frozenBy)); end it now"
            : trip.frozenBy.hasPrefix("killed")
                ? "it was ended instead (\(trip.frozenBy)); nothing it wrote was deleted"
                : "it is frozen (\(trip.frozenBy)): it cannot write more, and nothing it wrote was deleted"
        return """
            cordon: sandbox \(name) reached its disk limit: \(trip.reason); \(frozen).
            cordon: end it with Ctrl-C (or `kill -INT \(supervisor)`), then `cordon diff \(name)` shows what it wrote. \
            To allow more, raise resources.disk / resources.inodes in the profile and run again.
            """
    }

    /// How long a frozen sandbox with no terminal attached is held before it is ended.
    static let unattendedHold: Double = 60

    /// While the sandbox is frozen: waits until it exits, ending it (SIGKILL) when the user asks:
    /// Ctrl-C, Ctrl-\ or Ctrl-D typed on `input` (the terminal, in raw mode), or SIGINT, SIGTERM,
    /// SIGHUP or SIGQUIT read from `signalFD`. Returns once init has exited (or the wait fails).
    /// `unattended`: with no terminal to answer (a script, CI), the frozen sandbox is ended after
    /// that many seconds rather than held until a signal that may never come.
    static func holdFrozen(pidfd: Int32, signalFD: Int32, input: Int32?, unattended: Double? = nil) {
        var killed = false
        var inputOpen = input != nil
        let deadline = unattended.map { WallClock.monotonic() + $0 }
        while true {
            var fds = [pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)]
            if signalFD >= 0 { fds.append(pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0)) }
            if inputOpen, let input { fds.append(pollfd(fd: input, events: Int16(POLLIN), revents: 0)) }
            let wait = killed ? -1 : deadline.map { Int32(clamping: Int(max(0, ($0 - WallClock.monotonic()) * 1000))) } ?? -1
            let rc = poll(&fds, nfds_t(fds.count), wait)
            if rc < 0 {
                if errno == EINTR { continue }
                return
            }
            if fds[0].revents & Int16(POLLIN) != 0 { return }
            if rc == 0 {
                killed = true
                try? ProcessDescriptor.signal(pidfd, SIGKILL)
                continue
            }
            var end = false
            var buffer = [UInt8](repeating: 0, count: 256)
            if signalFD >= 0, fds[1].revents & Int16(POLLIN) != 0 {
                let n = read(signalFD, &buffer, buffer.count)
                if n > 0, buffer[0..<n].contains(where: { Int32($0) != SIGWINCH }) { end = true }
            }
            if inputOpen, let input, fds[fds.count - 1].revents != 0 {
                let n = read(input, &buffer, buffer.count)
                if n > 0 {
                    if buffer[0..<n].contains(where: { $0 == 0x03 || $0 == 0x1c || $0 == 0x04 }) { end = true }
                } else if n == 0 || errno != EAGAIN && errno != EINTR {
                    inputOpen = false
                }
            }
            if end && !killed {
                killed = true
                try? ProcessDescriptor.signal(pidfd, SIGKILL)
            }
        }
    }
}

extension SandboxRunner {
    /// The disk limits of this run: the profile's, else the defaults capped by what the state
    /// filesystem has free.
    func diskLimits(layout: SandboxLayout) -> DiskWatch.Limits {
        // Filesystems without a fixed inode table (btrfs) report 0 files: no cap from them.
        let free = try? FileSystemUsage.free(at: layout.directory)
        let limits = profile.resources.diskLimits(freeBytes: free?.bytes, freeInodes: free?.inodes)
        return .init(bytes: limits.bytes, inodes: limits.inodes)
    }

    /// The watcher of the run's upper layers (nil without any: unsafe mode with no overlay mounts).
    func makeDiskWatch(name: String, layout: SandboxLayout, overlays: OverlayLayers) -> DiskWatch? {
        guard !overlays.layers.isEmpty else { return nil }
        let watch = DiskWatch(uppers: overlays.layers.map(\.upper), limits: diskLimits(layout: layout))
        if watch == nil { warn("cordon: cannot watch the disk use of \(name) (no pipe); resources.disk caps single files only") }
        return watch
    }

    static func reportDiskLimit(_ trip: DiskWatch.Trip, name: String, events: JSONLinesWriter, terminal: Bool, warn: @Sendable (String) -> Void) {
        events.append(
            SandboxEvent(
                sandbox: name,
                .diskLimit(
                    .init(
                        bytes: Int(clamping: trip.usage.bytes), inodes: Int(clamping: trip.usage.inodes),
                        limitBytes: Int(clamping: trip.limits.bytes), limitInodes: Int(clamping: trip.limits.inodes),
                        frozenBy: trip.frozenBy, reason: trip.reason))))
        var text = DiskWatch.message(name: name, trip: trip, supervisor: getpid())
        if !terminal {
            text += "\ncordon: no terminal is attached: the frozen sandbox is ended in \(Int(DiskWatch.unattendedHold)) s unless cordon gets a signal first."
        }
        // The terminal is in raw mode during a terminal run: each line needs its carriage return.
        warn(terminal ? text.split(separator: "\n").joined(separator: "\r\n") + "\r" : text)
    }
}

extension SandboxPlan {
    /// Where the plan mounts writable overlays, inside the sandbox.
    var overlayTargets: [String] {
        steps.compactMap { step in
            if case .overlay(_, _, _, let target) = step { return target }
            return nil
        }
    }
}
