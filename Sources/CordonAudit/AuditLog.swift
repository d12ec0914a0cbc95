public import CordonCore
import CordonOS
import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A sandbox's audit log, `<sandbox>/audit.jsonl`: append-only JSON lines, each chained to the
/// one before by its SHA-256 (`AuditChain`). Every process that writes it (the supervisor,
/// `cordon sync`, `cordon exec`) appends under an flock on the log and through an `O_APPEND`
/// descriptor, reading the chain's end again whenever the log grew since its own last write, so
/// records from several processes form one chain.
///
/// For the other writers: the exec service of a sandbox brought up records each command with
/// `execStarted`/`execEnded`; a command that ends a step outside the supervisor (`cordon sync`)
/// calls `AuditLog.record(_:layout:sandbox:warn:)`, which also moves the head. `cordon down`
/// ends the supervisor, whose stop writes the head.
///
/// `append` writes now (commands). `post` queues for a writer thread and returns at once: the
/// proxy calls it on its event loops, which must not wait for a disk. The writer takes what came
/// within `batchDelay` as one batch (one lock, one write: a busy proxy posts a record a request).
/// The queue is bounded: past
/// `queueLimit` waiting records (besides the batch being written) the rest are counted, not
/// kept, and a `dropped` record says how many.
public final class AuditLog: Sendable {
    public let sandbox: String
    public let layout: SandboxLayout
    private let fd: Int32
    private let tail = Mutex<AuditChain.Tail?>(nil)
    private let queue = DispatchQueue(label: "cordon.audit")
    private let pending = Mutex<(records: [AuditRecord], scheduled: Bool, dropped: [String: Int], failure: String?)>(([], false, [:], nil))
    /// Told once when an append fails (the log's disk is full, it was made unwritable).
    private let warn: @Sendable (String) -> Void

    /// Records waiting for the writer thread beyond which new ones are counted and dropped.
    public static let queueLimit = 10_000

    /// How long a posted record waits for others to share its write.
    static let batchDelay = DispatchTimeInterval.milliseconds(50)

    /// Opens (creating, mode 0600) the log of the sandbox at `layout`. `sandbox` is its name: the
    /// chain's first record is tied to it.
    public init(layout: SandboxLayout, sandbox: String, warn: @escaping @Sendable (String) -> Void = { _ in }) throws(CordonError) {
        let fd = open(layout.auditLog, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw CordonError(.io, "cannot open the audit log \(layout.auditLog)", cause: String(cString: strerror(errno))) }
        self.fd = fd
        self.sandbox = sandbox
        self.layout = layout
        self.warn = warn
    }

    deinit {
        // Not `flush()`: the last reference can go on the queue itself (a drain block holding
        // it finishes after every other owner let go), where `queue.sync` traps. Nothing else can
        // reach the log now and no block is pending (each holds a reference): drain here.
        drain()
        close(fd)
    }

    /// Chains and writes `records` now, with one write, holding the log's lock.
    public func append(_ records: [AuditRecord]) throws(CordonError) {
        guard !records.isEmpty else { return }
        let lock = try lockLog()
        defer { close(lock) }
        try tail.withLock { cached throws(CordonError) in
            var st = stat()
            guard fstat(fd, &st) == 0 else { throw CordonError(.io, "cannot read the audit log", cause: String(cString: strerror(errno))) }
            var found = cached
            if found?.size != Int(st.st_size) { found = try AuditChain.tail(fd: fd, sandbox: sandbox) }
            guard var end = found else { return }
            var bytes: [UInt8] = end.complete ? [] : [0x0A]
            for record in records {
                let line = AuditChain.line(record, seq: end.seq + 1, prev: end.hash)
                end.seq += 1
                end.hash = AuditChain.hash(line)
                bytes += line
                bytes.append(0x0A)
            }
            do throws(SystemError) { try FileIO.writeAll(fd: fd, bytes) } catch {
                cached = nil
                throw CordonError(.io, "cannot write the audit log \(layout.auditLog)", cause: error.description)
            }
            end.size = Int(st.st_size) + bytes.count
            end.complete = true
            cached = end
        }
    }

    /// The log's flock, held until the returned descriptor is closed (it waits for other writers).
    private func lockLog() throws(CordonError) -> Int32 {
        do throws(SystemError) { return try FileLock.acquire(layout.auditLog).take().take() } catch {
            throw CordonError(.io, "cannot lock the audit log \(layout.auditLog)", cause: error.description)
        }
    }

    public func append(_ record: AuditRecord) throws(CordonError) {
        try append([record])
    }

    /// Queues `record` for the writer thread; never waits for the disk.
    public func post(_ record: AuditRecord) {
        let schedule = pending.withLock { pending -> Bool in
            guard pending.records.count < Self.queueLimit else {
                pending.dropped[record.kind, default: 0] += 1
                return false
            }
            pending.records.append(record)
            defer { pending.scheduled = true }
            return !pending.scheduled
        }
        if schedule { queue.asyncAfter(deadline: .now() + Self.batchDelay) { self.drain() } }
    }

    /// Writes what is queued, then returns.
    public func flush() {
        queue.sync { drain() }
    }

    private func drain() {
        let (records, dropped) = pending.withLock { pending in
            defer {
                pending.records = []
                pending.dropped = [:]
                pending.scheduled = false
            }
            return (pending.records, pending.dropped)
        }
        var batch = records
        if !dropped.isEmpty {
            batch.append(.dropped(count: dropped.values.reduce(0, +), kinds: dropped.keys.sorted()))
        }
        do throws(CordonError) { try append(batch) } catch {
            let first = pending.withLock { pending -> Bool in
                defer { pending.failure = error.description }
                return pending.failure == nil
            }
            if first { warn("cordon: the audit log is not being written: \(error.description)") }
        }
    }

    /// Writes what is queued, then the head file: the chain's last seq and hash, replaced
    /// atomically (at every stop, sync and down). The head is read from the log under its lock,
    /// so it names the last record whoever wrote it.
    public func writeHead() throws(CordonError) {
        flush()
        let lock = try lockLog()
        defer { close(lock) }
        let end = try AuditChain.tail(fd: fd, sandbox: sandbox)
        let head = AuditHead(sandbox: sandbox, seq: end.seq, hash: end.hash, time: WallClock.rfc3339())
        do throws(SystemError) { try FileIO.writeAtomically(layout.auditHead, head.bytes, mode: 0o600, durable: false) } catch {
            throw CordonError(.io, "cannot write the audit head \(layout.auditHead)", cause: error.description)
        }
    }

    /// Appends `records`, then writes the head; for commands that end a step (sync, down).
    /// An error is said with `warn`: the step itself has happened.
    public func appendAndSeal(_ records: [AuditRecord]) {
        do throws(CordonError) {
            try append(records)
            try writeHead()
        } catch {
            warn("cordon: the audit log could not be written: \(error.description)")
        }
    }

    /// Opens the log of `layout` and appends `records` with the head, said with `warn` when it
    /// cannot (one line for the commands' hooks).
    public static func record(_ records: [AuditRecord], layout: SandboxLayout, sandbox: String, warn: @escaping @Sendable (String) -> Void) {
        do throws(CordonError) {
            try AuditLog(layout: layout, sandbox: sandbox, warn: warn).appendAndSeal(records)
        } catch {
            warn("cordon: the audit log could not be written: \(error.description)")
        }
    }

    // MARK: - Commands in the sandbox

    /// A command started in the sandbox; hand it back to `execEnded` when it exits.
    public struct Exec: Sendable {
        public let id: Int
        let started: Double
    }

    /// Records a command starting in the sandbox (`via`: "run", "exec").
    public func execStarted(argv: [String], via: String) -> Exec {
        let exec = Exec(id: Int(UInt32.random(in: 1...UInt32.max)), started: WallClock.monotonic())
        post(.exec(id: exec.id, argv: argv, via: via))
        return exec
    }

    /// Records the command's exit status.
    public func execEnded(_ exec: Exec, status: Int) {
        post(.execExit(id: exec.id, status: status, durationMS: Int((WallClock.monotonic() - exec.started) * 1000)))
    }
}
