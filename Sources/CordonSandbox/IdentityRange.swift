import CordonCore
import CordonIsolation
import CordonOS
import Glibc

/// The host uids and gids a sandbox's users are when cordon runs as root: a block of 65536 of
/// its own, from a region cordon reserves (0x70000000–0x7FFDFFFF, above systemd-nspawn's
/// container ranges and below the foreign range at 0x7FFE0000), so that file permissions,
/// keyrings and every other uid check treat the agent as the unprivileged stranger it is.
///
/// A sandbox keeps its block across runs (its upper layer's files are owned by it): the block
/// is recorded in the sandbox's directory and claimed in a registry (`/var/lib/cordon/uid-ranges`,
/// one file per block naming the sandbox directory, created with O_EXCL under the registry's
/// lock), so two sandboxes never share one, running or not. A block whose sandbox directory is
/// gone is taken back by a later claim (only the sandbox's upper and work dirs hold its ids).
struct IdentityRange: Sendable, Equatable {
    static let region: UInt32 = 0x7000_0000
    static let size: UInt32 = 65536
    static let blocks: UInt32 = 4094
    static let registry = "/var/lib/cordon/uid-ranges"
    static let recordName = "uid-range"

    let block: UInt32
    /// Claimed by this call (the sandbox had no block): what an earlier cordon left in its upper
    /// layers is still owned by host ids, see `adoptLayer`.
    var claimedNow = false
    /// The files a claim made now wrote (registry entry, the sandbox's record of its block), not
    /// yet flushed to disk: see `flushClaim`.
    var claimFiles: [String] = []
    /// The host uid (and gid) of root inside; the sandbox user is this uid too (see PlanExecutor).
    var base: UInt32 { Self.region + block * Self.size }

    static func == (a: IdentityRange, b: IdentityRange) -> Bool { a.block == b.block }

    /// The block of the sandbox whose state is `directory` (made if missing), claimed now when it
    /// has none. Throws when none can be claimed: the sandbox must not run as host root.
    static func forSandbox(directory: String, registry: String = IdentityRange.registry) throws(CordonError) -> IdentityRange {
        do throws(SystemError) {
            try FileIO.makeDirectories(directory, mode: 0o700)
            try FileIO.makeDirectories(registry, mode: 0o700)
        } catch {
            throw CordonError(
                .io, "cannot prepare the sandbox's uid range",
                hint: "cordon run as root maps the sandbox to host uids \(region)+ and records them in \(registry)", cause: error.description)
        }
        let record = directory + "/" + recordName
        let recorded = recordedBlock(directory: directory).flatMap { $0 < blocks ? $0 : nil }
        if let block = recorded, owner(of: block, registry: registry) == directory {
            return IdentityRange(block: block)
        }
        // Claims are made one at a time (an flock on the registry), so a block whose sandbox is
        // gone (its directory, or its record naming the block, missing) is taken back safely.
        let lock = open(registry + "/.lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard lock >= 0 else { throw CordonError(.io, "cannot lock \(registry)", cause: String(cString: strerror(errno))) }
        defer { close(lock) }
        while flock(lock, LOCK_EX) != 0 {
            guard errno == EINTR else { throw CordonError(.io, "cannot lock \(registry)", cause: String(cString: strerror(errno))) }
        }
        // The block this directory recorded comes first (a spare state directory keeps the record
        // of the sandbox it served, whose claim is then stale): taken over in place if free.
        let start = recorded ?? UInt32.random(in: 0..<blocks)
        for offset in 0..<blocks {
            let block = (start + offset) % blocks
            let claim = registry + "/\(block)"
            let taken = FileIO.kind(claim, followSymlinks: false) != .missing
            // A stale claim (its sandbox gone, or no longer recording the block) is taken over
            // where it is: rewritten in place, no unlink and new file (see SpareStateDirectories).
            if taken { guard let owner = owner(of: block, registry: registry), !holds(owner, block) else { continue } }
            do throws(SystemError) { try FileIO.overwrite(claim, Array(directory.utf8), mode: 0o600) } catch {
                if !taken { _ = unlink(claim) }
                throw CordonError(.io, "cannot claim a uid range in \(registry)", cause: error.description)
            }
            // Not flushed here: an fsync before init's clone held every new sandbox's start
            // (1-3 ms on a quiet disk, tens of ms on a busy one). See `flushClaim`.
            if block != recorded {
                do throws(SystemError) { try FileIO.writeAtomically(record, Array("\(block)\n".utf8), mode: 0o600, durable: false) } catch {
                    throw CordonError(.io, "cannot write \(record)", cause: error.description)
                }
            }
            return IdentityRange(block: block, claimedNow: true, claimFiles: [registry + "/\(block)", record])
        }
        throw CordonError(
            .unsupported, "every one of cordon's \(blocks) uid ranges is claimed (\(registry))",
            hint: "remove the files of sandboxes that no longer exist from \(registry)")
    }

    /// Flushes a claim made now to disk. The runner does it once the sandbox's upper layers may
    /// hold something owned by the block (at the start for a sandbox that existed before, at the
    /// end of a new sandbox's run that left changes). Until then a host crash that loses the claim
    /// loses nothing: the sandbox claims a block again at its next run, and files of its that the
    /// old block owns stay in its state directory, which no sandbox can see (cordon refuses
    /// workspaces and mounts that overlap it), even one that is given that block later.
    func flushClaim() throws(SystemError) {
        for file in claimFiles { try FileIO.syncFile(file) }
    }

    /// Gives what lies beneath the upper layer `path` (written by an earlier cordon, run as root,
    /// when the sandbox was host uid 0) to the sandbox's ids: an id `n` below 65536 becomes
    /// `base + n`, so files root wrote stay root's inside. Beneath the directory opened without
    /// following any symlink, each entry changed with AT_SYMLINK_NOFOLLOW; the sandbox is not
    /// running (its lock is held). Returns the entries that could not be changed.
    func adoptLayer(_ path: String) -> Int {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return 0 }
        return adopt(directory: fd, depth: 0)
    }

    /// Takes ownership of `fd`.
    private func adopt(directory fd: Int32, depth: Int) -> Int {
        defer { close(fd) }
        guard depth < 4096, let names = DirectoryListing.names(ofDirectory: fd) else { return 1 }
        var failed = 0
        for name in names {
            let cName = name.map { CChar(bitPattern: $0) } + [0]
            var st = stat()
            guard fstatat(fd, cName, &st, AT_SYMLINK_NOFOLLOW) == 0 else { failed += 1; continue }
            let uid = st.st_uid < Self.size ? base + st.st_uid : st.st_uid
            let gid = st.st_gid < Self.size ? base + st.st_gid : st.st_gid
            if uid != st.st_uid || gid != st.st_gid {
                // chown clears set-id bits: the sync gate flags those anyway.
                if fchownat(fd, cName, uid, gid, AT_SYMLINK_NOFOLLOW) != 0 { failed += 1 }
            }
            if st.st_mode & S_IFMT == S_IFDIR {
                let child = openat(fd, cName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                if child >= 0 { failed += adopt(directory: child, depth: depth + 1) } else { failed += 1 }
            }
        }
        return failed
    }

    /// Whether the sandbox directory `directory` still records `block` as its own.
    private static func holds(_ directory: String, _ block: UInt32) -> Bool {
        guard let bytes = try? FileIO.readFile(directory + "/" + recordName, limit: 32) else { return false }
        return String(decoding: bytes.last == 0x0A ? bytes.dropLast() : bytes[...], as: UTF8.self) == String(block)
    }

    private static func owner(of block: UInt32, registry: String) -> String? {
        guard let bytes = try? FileIO.readFile(registry + "/\(block)", limit: 4096) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Detached mounts the supervisor (host root) opens for init, which runs as the sandbox's
/// unprivileged host uid and may not reach them: the workspace and read-write mounts idmapped so
/// their owner is the sandbox's user, read-only mounts as they are, and the directories holding
/// the overlays' upper and work layers.
struct SupervisorTrees {
    private(set) var paths: [String] = []
    private(set) var fds: [Int32] = []
    private var namespaces: [String: Int32] = [:]

    /// Opens what `plan` needs and records it in `plan.trees`. `initPid`: init, whose user
    /// namespace maps host-root-owned files to root inside.
    static func open(for plan: inout SandboxPlan, range: IdentityRange, initPid: Int32) throws(CordonError) -> SupervisorTrees {
        var trees = SupervisorTrees()
        do throws(CordonError) {
            for step in plan.steps {
                switch step {
                case .overlay(let lower, let upper, _, _):
                    try trees.add(lower, idmapped: true, range: range, initPid: initPid)
                    try trees.add(parentDirectory(upper), idmapped: false, range: range, initPid: initPid)
                case .bind(let source, _, let readOnly) where !isSystemSource(source):
                    try trees.add(source, idmapped: !readOnly, range: range, initPid: initPid)
                default:
                    break
                }
            }
        } catch {
            trees.close()
            throw error
        }
        plan.trees = trees.paths
        trees.closeNamespaces()
        return trees
    }

    /// Binds of the host's system (read by everyone) that init makes by path itself.
    static func isSystemSource(_ source: String) -> Bool {
        source == "/etc" || source.hasPrefix("/dev/") || HostFacts.systemDirectories.contains(source)
    }

    static func parentDirectory(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }

    private mutating func add(_ path: String, idmapped: Bool, range: IdentityRange, initPid: Int32) throws(CordonError) {
        guard !paths.contains(path) else { return }
        guard paths.count < SandboxPlan.maxTrees else {
            throw CordonError(.unsupported, "the profile mounts more than \(SandboxPlan.maxTrees) host directories", hint: "mount fewer directories")
        }
        let tree: Int32
        do throws(CordonError) { tree = try DetachedTree.clone(path, recursive: true) } catch {
            throw CordonError(.sandboxSetup, "cannot open \(path) for the sandbox", cause: error.cause)
        }
        if idmapped {
            var st = stat()
            guard fstat(tree, &st) == 0 else {
                let e = errno
                Glibc.close(tree)
                throw CordonError(.sandboxSetup, "cannot stat \(path)", cause: String(cString: strerror(e)))
            }
            do throws(CordonError) {
                let userns = try namespace(owner: st.st_uid, group: st.st_gid, range: range, initPid: initPid)
                do throws(CordonError) { try DetachedTree.idmap(tree, userNamespace: userns, path: path) } catch {
                    throw CordonError(
                        .sandboxSetup, "cannot map the owner of \(path) to the sandbox's user (idmapped mount)",
                        hint: "run as root, cordon needs idmapped mounts (Linux 5.12+) on the file system of \(path); run cordon as an ordinary user instead",
                        cause: error.cause)
                }
            } catch {
                Glibc.close(tree)
                throw error
            }
        }
        paths.append(path)
        fds.append(tree)
    }

    /// A user namespace mapping `owner`:`group` to the sandbox's root (init's own when the owner
    /// is root, else one made for it by a child that never runs).
    private mutating func namespace(owner: uid_t, group: gid_t, range: IdentityRange, initPid: Int32) throws(CordonError) -> Int32 {
        let key = "\(owner):\(group)"
        if let fd = namespaces[key] { return fd }
        let fd: Int32
        if owner == 0 && group == 0 {
            fd = Glibc.open("/proc/\(initPid)/ns/user", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw CordonError(.sandboxSetup, "cannot open the sandbox's user namespace", cause: String(cString: strerror(errno))) }
        } else {
            let child: SpawnedProcess
            do throws(SystemError) {
                child = try SpawnedProcess.start(path: "/nonexistent", arguments: ["cordon-idmap"], environment: [], descriptors: [], namespaces: .user)
            } catch {
                throw CordonError(.sandboxSetup, "cannot create a user namespace for an idmapped mount", cause: error.description)
            }
            defer { child.abandon() }
            do throws(SystemError) { try child.mapIdentity(insideUid: owner, outsideUid: range.base, insideGid: group, outsideGid: range.base) } catch {
                throw CordonError(.sandboxSetup, "cannot map uid \(owner) for an idmapped mount", cause: error.description)
            }
            fd = Glibc.open("/proc/\(child.pid)/ns/user", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw CordonError(.sandboxSetup, "cannot open a user namespace for an idmapped mount", cause: String(cString: strerror(errno)))
            }
        }
        namespaces[key] = fd
        return fd
    }

    private mutating func closeNamespaces() {
        for fd in namespaces.values { Glibc.close(fd) }
        namespaces = [:]
    }

    mutating func close() {
        closeNamespaces()
        for fd in fds { Glibc.close(fd) }
        fds = []
    }
}
