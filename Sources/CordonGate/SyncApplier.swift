public import CordonCore
public import CordonFS
import CordonOS
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// Applies changes from an upper layer to the host workspace, crash-safely.
///
/// Phases, each recorded in a journal (written atomically) before its work starts:
/// 1. `preparing`: new directories made, every new file written to a temporary name in its target
///    directory (or, with `moveFiles`, made ready in the upper to be renamed into place), then one
///    syncfs(2) of the workspace's filesystem makes all of them durable (instead of an fsync each).
///    The host's existing files are untouched, so a crash here is rolled back.
/// 2. `committing`: temporaries (or the upper's files themselves) renamed over their targets,
///    deletions unlinked, modes set, directories fsynced. Each step is atomic; a crash here is
///    rolled forward from the upper layer, which still holds every file not yet in place.
/// 3. `committed`: applied entries removed from the upper layer, then the journal is deleted.
/// Independent file calls (staging, runs of renames, directory fsyncs, upper unlinks) run on several
/// threads (`ParallelWork`); each phase's journal record is written only after all of them returned.
/// Every host path is reached through `AnchoredDirectory`, never through a symlink.
public struct SyncApplier {
    public let workspace: String
    public let upper: String
    public let journalPath: String
    /// Test hook, called after every journal write and every operation; throwing simulates a crash.
    /// yolo's auto-sync also uses it to stop an apply whose source changed after the gate read it.
    public var checkpoint: (String) throws(CordonError) -> Void = { _ throws(CordonError) in }
    /// Leave applied entries in the upper layer: set while the overlay is mounted (yolo's
    /// auto-sync during a run), where changing the upper under the overlay is undefined. The host
    /// then equals the upper for those entries, so the next change set no longer lists them.
    public var keepUpper = false
    /// Move the upper's files into the workspace instead of copying them: one rename each, with
    /// no new inode, no data copied and nothing left to unlink from the upper afterwards. Only for
    /// a sandbox that is not running (nothing can write the upper any more, so the bytes the gate
    /// read are the bytes that land); used when the upper and the workspace share a filesystem and
    /// `keepUpper` is off. Each file is first made to look like one cordon wrote
    /// (`AnchoredDirectory.adoptInPlace`) or, when it cannot be, copied as before.
    public var moveFiles = false

    /// Where the files' bytes are read when not from `upper` (a snapshot); `upper` is then only
    /// the layer `keepUpper` leaves alone.
    public var source: String?

    public init(workspace: String, upper: String, journalPath: String) {
        self.workspace = workspace
        self.upper = upper
        self.journalPath = journalPath
    }

    struct Journal: Codable {
        enum Phase: String, Codable { case preparing, committing, committed }
        var id: String
        var phase: Phase
        var ops: [Op]
        /// Opaque directories whose marker may be removed from the upper layer after commit.
        var opaqueDone: [String]
        /// Files without a staged temporary are renamed from the upper (`moveFiles`).
        var moves: Bool?
        /// Where the files' bytes come from when it is not the upper: the snapshot a running
        /// sandbox's sync copied them to. Recovery re-stages from there, never from the live upper.
        var source: String?
    }

    struct Op: Codable, Sendable {
        enum Kind: String, Codable, Sendable { case write, symlink, mkdir, chmod, chmodDir = "chmod_dir", remove, rmdir }
        var kind: Kind
        var path: String
        var temp: String?
        var mode: UInt32
        var target: String?
        /// Created in the prepare phase (rolled back by removing it).
        var prepared = false
    }

    public struct Outcome: Sendable, Equatable, Codable {
        public var applied: [String] = []
        /// Directories that could not be removed because the host added files to them meanwhile.
        public var kept: [String] = []
        public var recovered: String?
        public init() {}
    }

    /// Applies `changes` (in change-set order). Finishes or rolls back an earlier interrupted apply first.
    public func apply(_ changes: [Change], allChanges: [Change]? = nil) throws(CordonError) -> Outcome {
        var outcome = Outcome()
        outcome.recovered = try recover()
        guard !changes.isEmpty else { return outcome }
        let id = String(UInt64.random(in: 0..<UInt64.max), radix: 36)
        var ops = try Self.ops(for: changes, id: id)
        let opaque = Self.opaqueDone(changes, all: allChanges ?? changes)
        let host = try AnchoredDirectory(workspace)
        let layer = try AnchoredDirectory(source ?? upper)
        try refuseEscapingLinks(ops, host: host)
        // Recorded before any work so a rollback knows which directories are ours to remove.
        for index in ops.indices where ops[index].kind == .mkdir { ops[index].prepared = host.lstat(ops[index].path) == nil }
        let moves = moveFiles && !keepUpper && source == nil && host.device == layer.device
        var journal = Journal(id: id, phase: .preparing, ops: ops, opaqueDone: opaque, moves: moves ? true : nil, source: source)
        // The ops never change between phases: encode them once.
        let encodedOps = try Self.encode(journal.ops)
        try writeJournal(journal, ops: encodedOps)
        try checkpoint("preparing")
        let adopted = try prepare(journal.ops, host: host, layer: layer, moves: moves)
        // Temp files and new directories durable (one syncfs, not an fsync each) before the journal says "committing".
        try host.syncFilesystem()
        try checkpoint("synced")
        journal.phase = .committing
        try writeJournal(journal, ops: encodedOps)
        try checkpoint("committing")
        let replaced = Set(changes.filter { $0.kind == .modified }.map(\.path))
        let moved = try commit(journal, host: host, layer: layer, outcome: &outcome, replaced: replaced, adopted: adopted)
        journal.phase = .committed
        try writeJournal(journal, ops: encodedOps)
        try checkpoint("committed")
        if !keepUpper && journal.source == nil { try cleanUpper(journal, layer: layer, moved: moved) }
        try removeJournal()
        return outcome
    }

    /// One op per change, in order (`id` names the temporaries).
    static func ops(for changes: [Change], id: String) throws(CordonError) -> [Op] {
        var ops: [Op] = []
        ops.reserveCapacity(changes.count)
        for (index, change) in changes.enumerated() {
            switch change.kind {
            case .added, .modified:
                let temp = Self.tempName(for: change.path, id: id, index: index)
                switch change.type {
                case .file: ops.append(Op(kind: .write, path: change.path, temp: temp, mode: change.mode))
                case .symlink: ops.append(Op(kind: .symlink, path: change.path, temp: temp, mode: 0, target: change.symlinkTarget))
                default:
                    throw CordonError(.policyDenied, "\(change.path) is a \(change.type.rawValue); cordon never applies special files")
                }
            case .modeChanged: ops.append(Op(kind: .chmod, path: change.path, mode: change.mode))
            case .dirAdded: ops.append(Op(kind: .mkdir, path: change.path, mode: change.mode))
            case .dirModeChanged, .dirReplaced: ops.append(Op(kind: .chmodDir, path: change.path, mode: change.mode))
            case .deleted: ops.append(Op(kind: .remove, path: change.path, mode: 0))
            case .dirRemoved: ops.append(Op(kind: .rmdir, path: change.path, mode: 0))
            }
        }
        return ops
    }

    /// Removes `changes` from the upper layer without applying them to the workspace, as `apply`
    /// removes what it applied: they reached the host another way (`cordon sync --branch`
    /// committed them to a git branch). Nothing when `keepUpper` (the overlay is mounted).
    public func dropFromUpper(_ changes: [Change], allChanges: [Change]? = nil) throws(CordonError) {
        guard !keepUpper, !changes.isEmpty else { return }
        let ops = try Self.ops(for: changes, id: "drop")
        let journal = Journal(id: "drop", phase: .committed, ops: ops, opaqueDone: Self.opaqueDone(changes, all: allChanges ?? changes), source: nil)
        try cleanUpper(journal, layer: try AnchoredDirectory(upper))
    }

    /// Resolves every symlink this apply makes against the host as it is now, with the apply's own
    /// entries over it: one that leads outside the workspace stops the apply before anything is
    /// written (the gate checked the same against the host as it was then).
    private func refuseEscapingLinks(_ ops: [Op], host: AnchoredDirectory) throws(CordonError) {
        guard ops.contains(where: { $0.kind == .symlink }) else { return }
        var planned: [String: LinkResolver.Entry] = [:]
        for op in ops {
            switch op.kind {
            case .write, .chmod, .remove, .rmdir: planned[op.path] = .other
            case .symlink: planned[op.path] = .symlink(op.target ?? "")
            case .mkdir, .chmodDir: planned[op.path] = .directory
            }
        }
        let tree = ResultingTree(changes: planned, host: host)
        for op in ops where op.kind == .symlink {
            let target = op.target ?? ""
            if LinkResolver.escapes(path: op.path, target: target, entry: tree.entry) {
                throw CordonError(
                    .policyDenied, "\(TerminalText.escaped(op.path)) -> \(TerminalText.escaped(target)) would lead outside \(workspace) once applied",
                    hint: "nothing was applied; run `cordon sync` again to re-check the change set")
            }
        }
    }

    /// Opaque directories whose every entry applies: their opaque marker may leave the upper.
    static func opaqueDone(_ changes: [Change], all: [Change]) -> [String] {
        let replaced = changes.filter { $0.kind == .dirReplaced }.map(\.path)
        guard !replaced.isEmpty else { return [] }
        let applied = Set(changes.map(\.path))
        // Every directory above a change that does not apply.
        var holding = Set<Substring>()
        for change in all where !applied.contains(change.path) {
            var path = Substring(change.path)
            while let slash = path.lastIndex(of: "/") {
                path = path[..<slash]
                if !holding.insert(path).inserted { break }
            }
        }
        return replaced.filter { !holding.contains(Substring($0)) }
    }

    /// Completes (or rolls back) an apply a crash interrupted; returns what was done, nil if none.
    @discardableResult
    public func recover() throws(CordonError) -> String? {
        guard let journal = try readJournal() else { return nil }
        let host = try AnchoredDirectory(workspace)
        let layer = try AnchoredDirectory(journal.source ?? upper)
        switch journal.phase {
        case .preparing:
            for op in journal.ops.reversed() {
                if let temp = op.temp, host.exists(temp) { _ = try? host.remove(temp, directory: false) }
                if op.kind == .mkdir && op.prepared { _ = try? host.remove(op.path, directory: true) }
            }
            try removeJournal()
            return "rolled back an interrupted sync (nothing had reached the host)"
        case .committing:
            var outcome = Outcome()
            try commit(journal, host: host, layer: layer, outcome: &outcome)
            var done = journal
            done.phase = .committed
            try writeJournal(done, ops: try Self.encode(done.ops))
            if !keepUpper && journal.source == nil { try cleanUpper(done, layer: layer) }
            try removeJournal()
            return "completed an interrupted sync (\(journal.ops.count) change\(journal.ops.count == 1 ? "" : "s"))"
        case .committed:
            if !keepUpper && journal.source == nil { try cleanUpper(journal, layer: layer) }
            try removeJournal()
            return "finished cleaning up after an interrupted sync"
        }
    }

    static func tempName(for path: String, id: String, index: Int) -> String {
        let (dir, _) = AnchoredDirectory.split(path)
        let name = ".cordon-sync.\(id).\(index)"
        return dir.isEmpty ? name : dir + "/" + name
    }

    /// Stages one op; `parents` remembers, per parent directory, whether files are staged into it now
    /// (true) or in the commit phase (false: a file this apply replaces by a directory stands there).
    /// One temporary to write, its directories already open, so that threads share nothing else.
    struct Staging: Sendable {
        var op: Op
        var hostDirectory: Int32
        var tempName: String
        /// -1 for a symlink.
        var layerDirectory: Int32
        var name: String
        /// Try making the upper's file ready to be renamed into place before copying it.
        var move = false
    }

    /// The prepare phase: new directories in order, then the temporaries on several threads, in
    /// batches small enough that the directory fds they use stay open. A failure stops the apply
    /// (the journal says `preparing`, so the next sync removes whatever was staged). Returns the
    /// paths made ready to move from the upper instead of staged (`moves`).
    private func prepare(_ ops: [Op], host: AnchoredDirectory, layer: AnchoredDirectory, moves: Bool) throws(CordonError) -> Set<String> {
        let removed = Set(ops.filter { $0.kind == .remove }.map(\.path))
        var parents: [String: Bool] = [:]
        var batch: [Staging] = []
        var adopted = Set<String>()
        for op in ops {
            // Each op opens at most a few directories; the batch's fds must not be evicted.
            if host.cachedDirectories > AnchoredDirectory.cacheLimit - 8 || layer.cachedDirectories > AnchoredDirectory.cacheLimit - 8 {
                adopted.formUnion(try stage(batch))
                batch = []
                host.dropCache()
                layer.dropCache()
            }
            switch op.kind {
            case .mkdir:
                // A file being replaced by this directory goes in the commit phase; make it there.
                if host.lstat(op.path) == nil { try host.makeDirectory(op.path, mode: op.mode) }
                try checkpoint("prepare:\(op.path)")
            case .write, .symlink:
                guard let temp = op.temp else { continue }
                // The parent may only appear in the commit phase (a file replaced by a directory).
                let parent = AnchoredDirectory.split(op.path).parent
                if !parent.isEmpty {
                    if parents[parent] == nil { parents[parent] = try stagesInto(parent, removed: removed, host: host) }
                    guard parents[parent] == true else { continue }
                }
                let (hostDirectory, tempName) = try host.parent(of: temp)
                let (layerDirectory, name) = op.kind == .write ? try layer.parent(of: op.path) : (-1, "")
                batch.append(
                    Staging(
                        op: op, hostDirectory: hostDirectory, tempName: tempName, layerDirectory: layerDirectory, name: name, move: moves && op.kind == .write))
            default: break
            }
        }
        adopted.formUnion(try stage(batch))
        try checkpoint("staged")
        return adopted
    }

    /// Writes `batch`'s temporaries, not fsynced (the caller syncs the filesystem once), except for
    /// the files made ready to move from the upper, whose paths it returns.
    private func stage(_ batch: [Staging]) throws(CordonError) -> [String] {
        let failures = ParallelWork.Failures()
        let adopted = ParallelWork.Marks()
        let (workspace, upper) = (self.workspace, self.upper)
        ParallelWork.forEach(batch.count, width: ParallelWork.createWidth) { index in
            let job = batch[index]
            if job.move,
                AnchoredDirectory.adoptInPlace(
                    in: job.layerDirectory, job.name, mode: job.op.mode, group: AnchoredDirectory.creationGroup(in: job.hostDirectory))
            {
                return adopted.mark(index)
            }
            let temp = workspace + "/" + (job.op.temp ?? "")
            if job.layerDirectory < 0 {
                if let failure = AnchoredDirectory.writeSymlink(in: job.hostDirectory, job.tempName, target: job.op.target ?? "") {
                    failures.record(index, AnchoredDirectory.error(failure.call, temp, failure.code))
                }
                return
            }
            let source = openat(job.layerDirectory, job.name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard source >= 0 else { return failures.record(index, AnchoredDirectory.error("open", upper + "/" + job.op.path, errno)) }
            defer { close(source) }
            if let failure = AnchoredDirectory.writeFile(in: job.hostDirectory, job.tempName, from: source, mode: job.op.mode, durable: false) {
                failures.record(index, AnchoredDirectory.error(failure.call, temp, failure.code))
            }
        }
        if let error = failures.first { throw error }
        return adopted.indices.map { batch[$0].op.path }
    }

    /// Whether files can be staged in `parent` now. Only a file this apply replaces by a directory may
    /// stand there instead; anything else (a symlink swapped in since the gate ran) stops the apply
    /// while it can still roll back.
    private func stagesInto(_ parent: String, removed: Set<String>, host: AnchoredDirectory) throws(CordonError) -> Bool {
        guard let st = host.lstat(parent), (st.st_mode & S_IFMT) != S_IFDIR else { return true }
        guard removed.contains(parent), (st.st_mode & S_IFMT) != S_IFLNK else {
            throw CordonError(
                .policyDenied, "\(workspace)/\(parent) is no longer a directory on the host", hint: "run `cordon sync` again to re-check the change set")
        }
        return false
    }

    /// Writes and fsyncs the temporary for `op` (the commit phase re-staging after a crash),
    /// replacing one a crash left behind.
    private func stage(_ op: Op, temp: String, host: AnchoredDirectory, layer: AnchoredDirectory) throws(CordonError) {
        if op.kind == .symlink {
            try host.createSymlink(temp, target: op.target ?? "")
        } else {
            let source = try layer.openForReading(op.path)
            defer { close(source) }
            try host.createFile(temp, from: source, mode: op.mode, durable: true)
        }
    }

    /// Idempotent: safe to run again after a crash part-way through. Runs of consecutive file ops
    /// (independent renames in existing directories) go on several threads, everything else in
    /// order; the files `replaced` (and the removed ones) are pinned first, so their inodes are
    /// freed together at the end (see `pin`).
    /// With `journal.moves`, a file without a temporary is renamed from the upper (first, for the
    /// `adopted` ones); one in neither place was renamed before a crash. Returns the paths renamed
    /// from the upper.
    @discardableResult
    private func commit(
        _ journal: Journal, host: AnchoredDirectory, layer: AnchoredDirectory, outcome: inout Outcome, replaced: Set<String> = [], adopted: Set<String> = []
    ) throws(CordonError) -> Set<String> {
        defer { host.releasePinned() }
        let moves = journal.moves == true
        var moved = Set<String>()
        var touched = Set<String>()
        // Pending renames, and ops done meanwhile, in journal order.
        var batch: [Renaming] = []
        func flush() throws(CordonError) {
            moved.formUnion(try rename(batch.filter { $0.directory >= 0 }, host: host, layer: layer))
            for job in batch {
                touched.insert(AnchoredDirectory.split(job.op.path).parent)
                outcome.applied.append(job.op.path)
                try checkpoint("commit:\(job.op.path)")
            }
            batch = []
        }
        for op in journal.ops {
            if batch.count >= 512 || host.cachedDirectories > AnchoredDirectory.cacheLimit - 8 || layer.cachedDirectories > AnchoredDirectory.cacheLimit - 8 {
                try flush()
                host.dropCache()
                layer.dropCache()
            }
            switch op.kind {
            case .write, .symlink:
                guard let temp = op.temp else { continue }
                if replaced.contains(op.path) { host.pin(op.path) }
                let (directory, tempName) = try host.parent(of: temp)
                var job = Renaming(op: op, directory: directory, tempName: tempName, name: AnchoredDirectory.split(op.path).name)
                if moves && op.kind == .write, let (layerDirectory, _) = try? layer.parent(of: op.path) {
                    job.layerDirectory = layerDirectory
                    job.moveFirst = adopted.contains(op.path)
                }
                batch.append(job)
                continue
            case .mkdir:
                // Made in the prepare phase (the usual case): only its mode is set, and the batch
                // goes on, so renames into many directories run together.
                if let st = host.lstat(op.path), (st.st_mode & S_IFMT) == S_IFDIR {
                    try host.makeDirectory(op.path, mode: op.mode)
                    batch.append(Renaming(op: op, directory: -1, tempName: "", name: ""))
                    continue
                }
            default: break
            }
            try flush()
            switch op.kind {
            case .mkdir:
                if let st = host.lstat(op.path), (st.st_mode & S_IFMT) != S_IFDIR { try host.remove(op.path, directory: false) }
                try host.makeDirectory(op.path, mode: op.mode)
            case .chmod:
                try host.chmod(op.path, mode: op.mode, directory: false)
            case .chmodDir:
                try host.chmod(op.path, mode: op.mode, directory: true)
            case .remove:
                // Already replaced by the directory a later op makes, when re-run after a crash.
                if let st = host.lstat(op.path), (st.st_mode & S_IFMT) != S_IFDIR {
                    host.pin(op.path)
                    try host.remove(op.path, directory: false)
                }
            case .rmdir:
                if let st = host.lstat(op.path), (st.st_mode & S_IFMT) == S_IFDIR {
                    do { try host.remove(op.path, directory: true) } catch { outcome.kept.append(op.path) }
                }
                host.dropCache()
            case .write, .symlink: break
            }
            touched.insert(AnchoredDirectory.split(op.path).parent)
            outcome.applied.append(op.path)
            try checkpoint("commit:\(op.path)")
        }
        try flush()
        try host.syncDirectories(touched.sorted().filter { $0.isEmpty || host.exists($0) })
        return moved
    }

    /// A temp to rename over its target, in a directory already open (-1: an op already done).
    struct Renaming: Sendable {
        var op: Op
        var directory: Int32
        var tempName: String
        var name: String
        /// The upper's directory holding the same name, when files may be moved from it (else -1).
        var layerDirectory: Int32 = -1
        /// The upper's file was made ready to move: no temporary was staged.
        var moveFirst = false
    }

    /// Renames `batch`'s temps (or, with `moves`, the upper's files) over their targets on several
    /// threads; a file that is in neither place was renamed before a crash when files move, and
    /// otherwise (or when the upper is another mount: EXDEV) is handled in order: same content as
    /// the upper, or staged again and renamed. Returns the paths renamed from the upper.
    private func rename(_ batch: [Renaming], host: AnchoredDirectory, layer: AnchoredDirectory) throws(CordonError) -> [String] {
        let missing = ParallelWork.Failures()
        let failures = ParallelWork.Failures()
        let fromTheUpper = ParallelWork.Marks()
        let workspace = self.workspace
        ParallelWork.forEach(batch.count, width: ParallelWork.ioWidth) { index in
            let job = batch[index]
            let fromUpper = { () -> Int32 in
                guard job.layerDirectory >= 0 else { return ENOENT }
                return renameat(job.layerDirectory, job.name, job.directory, job.name) == 0 ? 0 : errno
            }
            let fromTemp = { () -> Int32 in renameat(job.directory, job.tempName, job.directory, job.name) == 0 ? 0 : errno }
            var code = job.moveFirst ? fromUpper() : fromTemp()
            var movedFromUpper = job.moveFirst
            if code == ENOENT && job.layerDirectory >= 0 {
                // Not where expected: in the other place, or in neither (renamed before a crash).
                code = job.moveFirst ? fromTemp() : fromUpper()
                movedFromUpper.toggle()
                if code == ENOENT { return }
            }
            if code == 0 {
                if movedFromUpper { fromTheUpper.mark(index) }
                return
            }
            switch code {
            case ENOENT: missing.record(index, AnchoredDirectory.error("rename", workspace + "/" + (job.op.temp ?? ""), ENOENT))
            case EXDEV: missing.record(index, AnchoredDirectory.error("rename", workspace + "/" + job.op.path, EXDEV))
            case EISDIR: failures.record(index, CordonError(.io, "\(workspace)/\(job.op.path) is a directory on the host; cannot replace it with a file"))
            case let code: failures.record(index, AnchoredDirectory.error("rename", workspace + "/" + (job.op.temp ?? ""), code))
            }
        }
        if let error = failures.first { throw error }
        for index in missing.indices {
            let op = batch[index].op
            guard let temp = op.temp else { continue }
            if op.kind == .write && sameContent(op.path, host: host, layer: layer) { continue }
            try stage(op, temp: temp, host: host, layer: layer)
            guard try host.replace(temp, over: op.path) else { throw AnchoredDirectory.error("rename", "\(workspace)/\(temp)", ENOENT) }
        }
        return fromTheUpper.indices.map { batch[$0].op.path }
    }

    /// Whether the host file already has the upper's bytes; both opened through their anchors.
    private func sameContent(_ path: String, host: AnchoredDirectory, layer: AnchoredDirectory) -> Bool {
        guard let a = try? host.openForReading(path) else { return false }
        defer { close(a) }
        guard let b = try? layer.openForReading(path) else { return false }
        defer { close(b) }
        return FileContents.equal(descriptors: a, b) == true
    }

    /// Removes applied entries from the upper layer so the overlay shows the (now equal) host files.
    /// `moved` ones have left it already.
    private func cleanUpper(_ journal: Journal, layer: AnchoredDirectory, moved: Set<String> = []) throws(CordonError) {
        var dirs: [String] = []
        // Unlinked on several threads, in batches whose directory fds stay open (see `pin`: every
        // upper file freed may wait for the device).
        var files: [(directory: Int32, name: String)] = []
        func drop(_ rel: String) {
            if layer.cachedDirectories > AnchoredDirectory.cacheLimit - 4 {
                Self.unlinkAll(files)
                files = []
                layer.dropCache()
            }
            // unlink refuses a directory (EISDIR), which stays; a missing parent means nothing to do.
            if let (directory, name) = try? layer.parent(of: rel) { files.append((directory, name)) }
        }
        for op in journal.ops {
            switch op.kind {
            case .mkdir, .chmodDir: dirs.append(op.path)
            case .remove, .rmdir:
                // The whiteout: a 0/0 device or marked file at the path.
                drop(op.path)
            default:
                if !moved.contains(op.path) { drop(op.path) }
            }
        }
        Self.unlinkAll(files)
        layer.dropCache()
        for dir in journal.opaqueDone {
            for name in ["trusted.overlay.opaque", "user.overlay.opaque"] { layer.removeAttribute(name, fromDirectory: dir) }
        }
        // Deepest first; a directory still holding held-back entries stays.
        for dir in dirs.sorted(by: { $0.count > $1.count }) { _ = try? layer.remove(dir, directory: true) }
        layer.dropCache()
    }

    private static func unlinkAll(_ files: [(directory: Int32, name: String)]) {
        ParallelWork.forEach(files.count, width: ParallelWork.ioWidth) { index in _ = unlinkat(files[index].directory, files[index].name, 0) }
    }

    static func encode(_ ops: [Op]) throws(CordonError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do { return Array(try encoder.encode(ops)) } catch { throw CordonError(.internal, "cannot encode the sync journal", cause: "\(error)") }
    }

    /// Writes the journal atomically and durably: temp file, fsync, rename, fsync of its directory.
    /// `ops` is `journal.ops` already encoded (the bulk of the journal, the same in every phase).
    private func writeJournal(_ journal: Journal, ops: [UInt8]) throws(CordonError) {
        struct Header: Encodable {
            var id: String
            var moves: Bool?
            var source: String?
            var opaqueDone: [String]
            var phase: Journal.Phase
        }
        let header: Data
        do {
            header = try JSONEncoder().encode(
                Header(id: journal.id, moves: journal.moves, source: journal.source, opaqueDone: journal.opaqueDone, phase: journal.phase))
        } catch {
            throw CordonError(.internal, "cannot encode the sync journal", cause: "\(error)")
        }
        // {"id":…,"opaqueDone":…,"phase":…} with "ops":[…] spliced in before the closing brace.
        var data = Array(header.dropLast())
        data += Array(#","ops":"#.utf8)
        data += ops
        data.append(UInt8(ascii: "}"))
        let temp = journalPath + ".tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AnchoredDirectory.error("create", temp) }
        let ok = data.withUnsafeBytes { raw in write(fd, raw.baseAddress, raw.count) == raw.count } && fsync(fd) == 0
        close(fd)
        guard ok, Glibc.rename(temp, journalPath) == 0 else { throw AnchoredDirectory.error("write", journalPath) }
        try syncParent(of: journalPath)
    }

    private func readJournal() throws(CordonError) -> Journal? {
        guard let info = try FileInfo.lstat(journalPath) else { return nil }
        guard info.type == .file else { throw CordonError(.io, "\(journalPath) is not a regular file") }
        let bytes = try FileContents.read(journalPath)
        do { return try JSONDecoder().decode(Journal.self, from: Data(bytes)) } catch {
            throw CordonError(
                .io, "the sync journal \(journalPath) is damaged", hint: "inspect the workspace for .cordon-sync.* files, then delete the journal",
                cause: "\(error)")
        }
    }

    private func removeJournal() throws(CordonError) {
        if unlink(journalPath) != 0 && errno != ENOENT { throw AnchoredDirectory.error("unlink", journalPath) }
        try syncParent(of: journalPath)
    }

    private func syncParent(of path: String) throws(CordonError) {
        let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let fd = open(dir.isEmpty ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw AnchoredDirectory.error("open", dir) }
        defer { close(fd) }
        _ = fsync(fd)
    }
}
