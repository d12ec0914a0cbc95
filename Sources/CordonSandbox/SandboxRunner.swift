public import CordonConfig
public import CordonCore
import CordonAudit
import CordonIsolation
public import CordonNet
import CordonGate
import CordonOS
public import CordonSecrets
import FoundationEssentials
import Glibc

/// Runs one command in a fresh sandbox and returns its exit status: the supervisor side of
/// `cordon run`. See docs/architecture.md for the sequence.
public final class SandboxRunner {
    public struct Options: Sendable {
        public var name: String
        public var workspace: String
        public var command: [String]
        public var initPath: String
        public var profileSource: String
        /// Give the command a pty when any of cordon's stdin, stdout, stderr is a terminal
        /// (false: it gets them as they are; only for cordon's own fixed commands, as `doctor`'s).
        public var allowTerminal: Bool
        /// Keep the sandbox's state directory when the run leaves nothing in its upper layers.
        /// false for a name cordon made up (`cordon run -- CMD`): a new sandbox whose run left
        /// nothing then leaves nothing behind (its emptied directory may serve the next new
        /// sandbox, `SpareStateDirectories`). A name the user chose is kept.
        public var keepWhenEmpty: Bool = true
        /// `cordon up`: no command; init stays up and runs what `cordon exec` asks for (see
        /// `ExecService`) until the sandbox is stopped. `onReady` is called once it serves.
        public var idle = false
        public var onReady: (@Sendable () -> Void)?
        /// Asks for the keystore's passphrase when the store has one (nil: no one can be asked,
        /// and a passphrase store stops the start with what to do).
        public var keystorePassphrase: (@Sendable () throws(CordonError) -> SecretBytes)?

        public init(name: String, workspace: String, command: [String], initPath: String, profileSource: String, allowTerminal: Bool = true) {
            self.allowTerminal = allowTerminal
            self.name = name
            self.workspace = workspace
            self.command = command
            self.initPath = initPath
            self.profileSource = profileSource
        }
    }

    public struct Outcome: Sendable {
        public var exitStatus: Int32
        public var layout: SandboxLayout
        public var limitsEnforcement: LimitsEnforcement
        public var oomKills: Int
        /// The host directory mounted at /workspace.
        public var workspace: String
        /// Egress decisions of the run (nil when the sandbox had no proxied network).
        public var network: NetworkSummary?
        /// UDP datagrams other than DNS that the sandbox tried to send (dropped).
        public var droppedDatagrams: Int = 0
        /// yolo mode: changes the automatic sync applied during and after the run.
        public var autoSynced: Int?
        /// yolo mode: changes still held for `cordon sync NAME`.
        public var autoSyncHeld: Int = 0
        /// Why the sandbox was frozen at its disk limit (nil when it was not).
        public var diskLimit: String?
        /// The run made the sandbox and left nothing: its state directory is gone.
        public var removed: Bool = false
    }

    public let profile: Profile
    public let paths: CordonPaths
    public let host: HostFacts
    /// Warnings for the user (stderr), separate from data output.
    public var warn: @Sendable (String) -> Void

    public init(profile: Profile, paths: CordonPaths, host: HostFacts = .current(), warn: @escaping @Sendable (String) -> Void) {
        // Host paths by their real spelling: the masks of secrets beneath the workspace and the
        // mounts, and the refusal of the home as workspace, compare paths as text, and a home or a
        // mount reached through a symlink would otherwise match nothing and mask nothing.
        var real = profile
        for index in real.mounts.indices { real.mounts[index].host = CordonPaths.canonical(real.mounts[index].host) }
        var facts = host
        facts.home = CordonPaths.canonical(host.home)
        self.profile = real
        self.paths = paths
        self.host = facts
        self.warn = warn
    }

    public func run(_ options: Options) throws(CordonError) -> Outcome {
        try SandboxName.validate(options.name)
        guard profile.backend == .namespace else {
            throw CordonError(.unsupported, "backend \"\(profile.backend.rawValue)\" is not available yet", hint: "use `backend: namespace`")
        }
        // Before anything is made: a bound secret the keystore lacks (or a keystore that cannot
        // be read) stops the start with the command to run.
        let placeholders = try SandboxSecrets.placeholders(
            for: profile.secrets.map { .init(name: $0.name, env: $0.env, domains: $0.domains) }, keystore: Keystore(paths: KeystorePaths(paths)))
        // The values the proxy swaps in, cordon's CA and the bundle that trusts it: a locked
        // keystore, a value that does not open or a CA that cannot be made stops the start here.
        let secretInterception = try SecretInterception.prepare(
            profile: profile, paths: paths, sandbox: options.name, placeholders: placeholders, passphrase: options.keystorePassphrase,
            notice: warn)
        // The user's terminal modes come back however the run ends, set-up errors included.
        let hostTerminal = HostTerminal()
        defer { hostTerminal.restore() }
        let pty = options.allowTerminal ? try Pty.open(for: hostTerminal) : nil
        defer { pty?.closeMaster() }
        if pty != nil && profile.terminal.filter == .off {
            warn(
                "WARNING: terminal.filter: off: the sandbox's output reaches your terminal raw; it can write your clipboard, set titles and make the terminal type into its input"
            )
        }
        // cordon-init first: it execs and loads while everything below is checked and made, and
        // waits for its plan, then for the limits, before doing anything. A failure meanwhile
        // kills it: nothing of the sandbox's has run.
        // Run as root, the sandbox's users are a block of unprivileged host ids of its own.
        // Its workspace and mounts are checked first: a refused run makes nothing for the sandbox.
        var range: IdentityRange?
        // A sandbox under a name cordon made up is new: its state directory may be a spare's
        // (taken once the workspace is known to be acceptable, before anything else is made).
        var takenLock: Int32?
        var lockHandedOver = false
        defer { if let takenLock, !lockHandedOver { close(takenLock) } }
        func takeSpare(_ layout: SandboxLayout) {
            guard !options.keepWhenEmpty, FileIO.kind(layout.directory, followSymlinks: false) == .missing else { return }
            takenLock = SpareStateDirectories(paths: paths).take(into: layout)
        }
        // Resolved once (its mount table read is a visible part of the start): before the spawn
        // when run as root, so that a refused workspace makes nothing for the sandbox.
        var resolved: String?
        if host.uid == 0 {
            resolved = try resolveWorkspace(options.workspace)
            takeSpare(SandboxLayout(paths: paths, name: options.name))
            range = try IdentityRange.forSandbox(directory: SandboxLayout(paths: paths, name: options.name).directory)
        }
        let sandbox = try InitProcess.start(path: options.initPath, terminal: pty, network: profile.network, uid: host.uid, gid: host.gid, range: range)
        if options.idle { try sandbox.abortingOnFailure { () throws(CordonError) in try sandbox.openExecChannel() } }
        // Whether this run makes the sandbox's state directory (a taken spare counts as made).
        let makesState =
            takenLock != nil || FileIO.kind(SandboxLayout(paths: paths, name: options.name).directory, followSymlinks: false) == .missing
        let (workspace, layout) = try sandbox.abortingOnFailure { () throws(CordonError) in
            let workspace: String
            if let resolved { workspace = resolved } else { workspace = try resolveWorkspace(options.workspace) }
            let layout = SandboxLayout(paths: paths, name: options.name)
            if range == nil { takeSpare(layout) }
            try prepareState(layout: layout, workspace: workspace, range: range)
            return (workspace, layout)
        }
        let lock = try sandbox.abortingOnFailure { () throws(CordonError) in
            if let takenLock { return takenLock }
            return try acquireLock(layout)
        }
        lockHandedOver = true
        defer { close(lock) }
        // A start refused before the command runs (a limit that cannot be enforced, a proxy that
        // cannot start, …) leaves no sandbox behind that this run made: no "broken" entry.
        var commandStarted = false
        defer { if makesState, !commandStarted { _ = removeEmptySandbox(layout) } }
        if let range, range.claimedNow {
            // A sandbox an earlier cordon ran as host root: its held changes become its own.
            let failed = overlayLayers(layout: layout).layers.reduce(0) { $0 + range.adoptLayer($1.upper) }
            if failed > 0 {
                warn("cordon: \(failed) entries of \(options.name)'s upper layer could not be given to its uid \(range.base): the sandbox may not change them")
            }
        }
        let events = try sandbox.abortingOnFailure { () throws(CordonError) in try JSONLinesWriter(path: layout.events) }
        let audit = RunAudit(name: options.name, layout: layout, profile: profile, warn: warn)
        if profile.mode == .unsafe {
            warn("WARNING: unsafe mode: \(workspace) is mounted read-write; the agent's writes reach the host directly, unreviewed")
        }
        try sandbox.abortingOnFailure { () throws(CordonError) in try PlaceholderMap.write(placeholders, stateDirectory: layout.directory) }
        if !placeholders.isEmpty {
            let names = placeholders.map { "$" + TerminalText.escaped($0.env) }.joined(separator: ", ")
            let holds = placeholders.count == 1 ? "holds a placeholder" : "hold placeholders"
            let values = placeholders.count == 1 ? "the value" : "the values"
            let domains = Set(placeholders.flatMap(\.domains)).sorted().joined(separator: ", ")
            let swap =
                profile.network == .proxy
                ? "the proxy puts \(values) into requests to \(domains) only"
                : "with network: \(profile.network.rawValue) no proxy puts \(values) in, so requests carry only the placeholder"
            warn("cordon: secrets: \(names) \(holds) (\(PlaceholderFormat.prefix)…), not \(values); \(swap)")
        }
        if profile.network == .host {
            warn("WARNING: network: host: the sandbox shares the host's network; egress is neither filtered nor logged")
        }
        // What `cordon config validate` warns about, said at every start too (network: host above).
        for risk in profile.riskWarnings(homeDirectory: host.home, resolve: CordonPaths.canonical) where risk.field != "network" {
            warn("WARNING: \(TerminalText.escaped(risk.field)): \(TerminalText.escaped(risk.message))")
        }
        let overlays = overlayLayers(layout: layout)
        let builder = PlanBuilder(profile: profile, host: host)
        let hostname = builder.hostname(for: options.name)

        // Limits: cgroups when we may create them; else rlimits, said plainly (strict refuses).
        let (cgroup, enforcement) = try sandbox.abortingOnFailure { () throws(CordonError) in try makeCgroup(name: "\(options.name).\(getpid())") }
        defer { cgroup?.remove() }
        let disk = makeDiskWatch(name: options.name, layout: layout, overlays: overlays)
        defer { disk?.stop() }
        var egress: SandboxEgress?
        let started = WallClock.monotonic()
        let startedWall = time(nil)
        var yolo: AutoSyncLoop?
        var ports: PortService?
        // A sandbox made by this run: its record and uid claim are flushed only if the run leaves
        // something in its upper layers (see `flushNewSandbox`).
        var newSandbox = false
        var leftNothing = false
        let status: Int32
        do throws(CordonError) {
            // init has exited when this returns or throws: the overlays are unmounted.
            defer {
                let wrote = overlays.settle(since: startedWall)
                if wrote, newSandbox { flushNewSandbox(layout: layout, range: range) }
                leftNothing = !wrote && newSandbox
            }
            let hint = LaunchHint(
                workspace: workspace, currentDirectory: Self.currentDirectory(),
                mounts: profile.mounts.map { (host: $0.host, sandbox: builder.expandHome($0.sandbox, home: builder.user.home)) })
            let loop = SupervisorLoop(
                sandbox: sandbox, hostname: hostname, pty: pty, layout: layout, disk: disk, filterLevel: profile.terminal.filter, warn: warn,
                explainLaunchFailure: { hint.message($0) })
            commandStarted = true
            status = try loop.run(
                prepare: { pid throws(CordonError) -> SupervisorLoop.Prepared in
                    // Checked now, written once the plan is on its way.
                    // (An upper left by a run whose record a crash lost is not new: it is flushed.)
                    let emptyAtStart = overlays.holdNothing()
                    newSandbox = emptyAtStart && (takenLock != nil || FileIO.kind(layout.record) != .file)
                    var record = try prepareRecord(layout: layout, name: options.name, workspace: workspace, new: takenLock != nil)
                    record.policyFiles = policyFiles(profileSource: options.profileSource)
                    if profile.mode == .yolo {
                        yolo = makeAutoSyncLoop(
                            name: options.name, workspace: workspace, layout: layout, events: events,
                            created: try? Date(record.created, strategy: .iso8601), record: record)
                        yolo?.start()
                    }
                    // Completed when the limits are released (v1: by init itself; v2: the move's
                    // RCU grace period passes meanwhile).
                    var joining: Cgroup.Joining?
                    do throws(SystemError) { joining = try cgroup?.startJoining(pid: pid) } catch {
                        throw CordonError(.sandboxSetup, "cannot put the sandbox in its cgroup", cause: error.description)
                    }
                    let identity = machineID(layout: layout)
                    var plan = builder.build(
                        .init(
                            name: options.name, workspace: workspace, command: options.command, terminal: pty != nil, layout: layout,
                            dataRoot: paths.profileDataDirectory(profile.name), rlimitFallback: enforcement == .rlimits,
                            consoleDevice: pty?.slavePath, fileSizeLimit: disk?.limits.bytes ?? diskLimits(layout: layout).bytes,
                            openFilesLimit: OpenFilesLimit.current(pids: profile.resources.pids),
                            machineID: identity.value, bootID: SandboxIdentifiers.newBootID(),
                            placeholders: Dictionary(placeholders.map { ($0.env, $0.placeholder) }, uniquingKeysWith: { _, later in later }),
                            trustBundle: secretInterception?.trustBundle
                        ))
                    plan.idle = options.idle
                    try prepareDataDirectories(plan: plan)
                    for upper in overlays.retireStaleScratch() {
                        warn(
                            "cordon: the last run of \(options.name) did not finish cleanly (host crash, or cordon was killed): the changes it held in \(upper) may be incomplete; review them with `cordon diff \(options.name)`"
                        )
                    }
                    var trees = SupervisorTrees()
                    if let range {
                        plan.root = try Self.rootMountPoint()
                        plan.steps = try Self.readCopies(plan.steps)
                        trees = try SupervisorTrees.open(for: &plan, range: range, initPid: pid)
                    }
                    defer { trees.close() }
                    try sandbox.sendPlan(plan.wireBytes(), trees: trees.fds)
                    // A new machine-id is kept once the plan is on its way: init does not wait for the file.
                    try identity.save()
                    if options.idle {
                        try startExecService(sandbox: sandbox, name: options.name, layout: layout, events: events, audit: audit.log, onReady: options.onReady)
                        ports = startPortService(sandbox: sandbox, name: options.name, layout: layout, audit: audit.log)
                    }
                    overlays.deleteRetiredInBackground()
                    disk?.start(
                        initPID: pid, sandboxPaths: plan.overlayTargets, emptyAtStart: emptyAtStart,
                        freeze: { () throws(SystemError) in try DiskWatch.freeze(cgroup: cgroup, initPID: pid) },
                        report: { [warn, terminal = pty != nil] trip in
                            Self.reportDiskLimit(trip, name: options.name, events: events, terminal: terminal, warn: warn)
                        })
                    // The policy is compiled while init builds the root, and checked before anything
                    // of the sandbox's runs: a bad pattern or a missing blocklist stops here.
                    egress = try makeEgress(
                        sandbox: options.name, layout: layout, events: events, placeholders: placeholders.map(\.placeholder),
                        interception: secretInterception?.interception)
                    if let egress { RefusalNotices(sandbox: options.name, raw: pty?.inputFD == 0, warn: warn).watch(egress.log) }
                    events.append(
                        SandboxEvent(
                            sandbox: options.name,
                            .start(
                                .init(
                                    profile: options.profileSource, mode: profile.mode.rawValue, workspace: workspace, command: options.command,
                                    limits: enforcement.description, landlockABI: Hardening.landlockABI, network: profile.network.rawValue,
                                    diskLimitBytes: Int(clamping: disk?.limits.bytes ?? 0), inodeLimit: Int(clamping: disk?.limits.inodes ?? 0)))))
                    audit.started(
                        profileSource: options.profileSource, profile: profile, workspace: workspace, command: options.command,
                        diskLimitBytes: Int(clamping: disk?.limits.bytes ?? 0), egress: egress, yolo: yolo)
                    // A sandbox brought up runs on: its log is verifiable from its start, not only after its first stop or sync.
                    if options.idle { audit.writeHead() }
                    // In place before anything of the sandbox's runs; on disk while it runs (its
                    // fsync, ~1 ms here, is not worth holding the start for: the run's upper is
                    // mounted volatile and synced only at the end as well).
                    // A spare's (truncated) record is rewritten in place: the sandbox is new and empty,
                    // as after a crash that lost its record (see `flushNewSandbox`).
                    do throws(SystemError) {
                        if takenLock != nil {
                            try FileIO.overwrite(layout.record, Array(record.jsonText.utf8))
                        } else {
                            try FileIO.writeAtomically(layout.record, Array(record.jsonText.utf8), durable: false)
                        }
                    } catch {
                        throw CordonError(.io, "cannot write \(layout.record)", cause: error.description)
                    }
                    // A new sandbox's record protects nothing until its upper holds something:
                    // flushed at the end if the run left changes (`flushNewSandbox`). Waiting for
                    // it at the end of every run cost a new sandbox ~8 ms on a quiet host (the
                    // fsync of a file in new directories), far more on a busy disk.
                    let saving =
                        newSandbox
                        ? Background.none()
                        : Background { [range] () throws(CordonError) in
                            do throws(SystemError) {
                                try FileIO.syncFile(layout.record)
                                try range?.flushClaim()
                            } catch {
                                throw CordonError(.io, "cannot flush \(layout.record) to disk", cause: error.description)
                            }
                        }
                    let control = egress == nil ? nil : SupervisorLoop.bindControlSocket(layout, warn: warn)
                    return SupervisorLoop.Prepared(joining: joining, saving: saving, egress: egress, control: control)
                },
                onNetwork: { state in
                    events.append(SandboxEvent(sandbox: options.name, .network(state: state)))
                })
        } catch {
            events.append(SandboxEvent(sandbox: options.name, .setupFailed(error: error.description)))
            ports?.stop()
            audit.failed(error)
            _ = yolo?.stop()
            throw error
        }
        ports?.stop()
        audit.sandboxExited()
        let synced = yolo?.stop()
        disk?.stop()
        let oom = cgroup?.oomKills ?? 0
        if options.idle { events.append(SandboxEvent(sandbox: options.name, .down(status: Int(status)))) }
        events.append(
            SandboxEvent(
                sandbox: options.name,
                .exit(
                    .init(
                        status: Int(status), durationMS: Int((WallClock.monotonic() - started) * 1000), oomKills: oom,
                        supervisorPeakRSSKB: Self.peakResidentKilobytes()))))
        var outcome = Outcome(
            exitStatus: status, layout: layout, limitsEnforcement: enforcement, oomKills: oom, workspace: workspace,
            network: egress?.log.summary, droppedDatagrams: egress?.droppedDatagrams ?? 0,
            autoSynced: synced.map(\.applied), autoSyncHeld: synced?.held.count ?? 0, diskLimit: disk?.trip?.reason)
        // A made-up name's sandbox that left nothing goes; a refused connection is something to
        // look into (`cordon net log NAME`): kept then.
        let refused = outcome.network.map { $0.refused + $0.dnsRefused } ?? 0
        let removing = leftNothing && !options.keepWhenEmpty && refused == 0
        audit.stopped(status: status, oomKills: oom, diskLimit: disk?.trip?.reason, keepsHead: !removing)
        if removing {
            outcome.removed = removeEmptySandbox(layout)
            // Not removed after all (something in it a spare does not keep): its log needs a head.
            if !outcome.removed { audit.writeHead() }
        }
        return outcome
    }

    /// The state directory of a sandbox this run made and left empty, with the sandbox's lock
    /// held: kept as a spare for the next new sandbox, or deleted. True when it is gone.
    func removeEmptySandbox(_ layout: SandboxLayout) -> Bool {
        if SpareStateDirectories(paths: paths).give(layout) { return true }
        guard SpareStateDirectories.empty(layout.directory) else { return false }
        // As `cordon rm` removes one: the directory, then its uid claim.
        let block = IdentityRange.recordedBlock(directory: layout.directory)
        do throws(CordonError) { try SandboxRemoval.removeDirectory(layout.directory) } catch { return false }
        _ = IdentityRange.release(directory: layout.directory, block: block)
        return true
    }

    /// `cordon up`: serves `cordon exec` on `<sandbox>/exec.sock` once init says the sandbox is
    /// built; `onReady` then (and an `up` event). `cordon down` asks init to end the sandbox.
    func startExecService(
        sandbox: InitProcess, name: String, layout: SandboxLayout, events: JSONLinesWriter, audit: AuditLog? = nil, onReady: (@Sendable () -> Void)?
    ) throws(CordonError) {
        let service = try ExecService(
            channel: sandbox.execChannel, socketPath: layout.execSocket, sandbox: name, events: events, audit: audit,
            onReady: {
                events.append(SandboxEvent(sandbox: name, .up(supervisorPID: Int(getpid()))))
                onReady?()
            })
        service.start()
    }

    /// The end of a new sandbox's run that left changes in its upper layers: its record (which
    /// says whose workspace they belong to) and its uid claim (which owns them) go to disk with
    /// them. A run that left nothing skips it: a host crash can then lose at most an empty
    /// sandbox's record (the state directory stays; the next run of the name makes it again).
    func flushNewSandbox(layout: SandboxLayout, range: IdentityRange?) {
        // A set-up that failed before the record was written has nothing to flush.
        guard FileIO.kind(layout.record) == .file else { return }
        do throws(SystemError) {
            try FileIO.syncFile(layout.record)
            try range?.flushClaim()
        } catch {
            warn("cordon: cannot flush \(layout.record) to disk (\(error)); the sandbox's record may not survive a crash of this host")
        }
    }

    /// The host files this run's policy comes from: the profile file and every file it names.
    /// A sync never changes them, so the agent cannot edit the policy of its next run.
    func policyFiles(profileSource: String) -> [String] {
        var files: [String] = []
        if profileSource.hasPrefix("/") { files.append(profileSource) }
        if let config = profile.sync.gitleaksConfig { files.append(config) }
        files += profile.egress.blocklists
        if let ca = profile.egress.parentProxy?.caFile { files.append(ca) }
        return files.filter { $0.hasPrefix("/") }
    }

    /// yolo's periodic sync of the workspace's and the overlay mounts' uppers, with the profile's `sync:` policy.
    /// `created`: when the sandbox was first created (host files changed after it are conflicts).
    func makeAutoSyncLoop(name: String, workspace: String, layout: SandboxLayout, events: JSONLinesWriter, created: Date?, record: SandboxRecord)
        -> AutoSyncLoop
    {
        let sync = profile.sync
        let scannerCache = paths.scannerCache
        let paths = self.paths
        return AutoSyncLoop(name: name, interval: sync.interval, events: events, warn: warn) { () throws(CordonError) in
            let policy = GatePolicy(
                syncAllow: sync.allow, deny: sync.deny, blockedExtensions: sync.blockedExtensions, maxFileSize: sync.maxFileSize,
                maxTotalSize: sync.maxTotalSize, gitleaksConfig: sync.gitleaksConfig)
            // The workspace and every overlay mount, each with its own protected paths.
            return try AutoSync.forSandbox(record: record, layout: layout, paths: paths, policy: policy, scannerCache: scannerCache, created: created)
        }
    }

    /// The egress proxy of a `network: proxy` run, its policy compiled (errors are the profile's).
    func makeEgress(
        sandbox: String, layout: SandboxLayout, events: JSONLinesWriter, placeholders: [String] = [], interception: Interception? = nil
    ) throws(CordonError) -> SandboxEgress? {
        guard profile.network == .proxy else { return nil }
        let warn = warn
        return try SandboxEgress(
            configuration: profile.egress, sandbox: sandbox, logPath: layout.networkLog,
            blocklistCache: paths.stateHome + "/blocklists", approvals: makeApprovals(sandbox: sandbox), placeholders: placeholders,
            interception: interception,
            onEvent: { message in
                warn("cordon: \(message)")
                events.append(SandboxEvent(sandbox: sandbox, .network(state: message)))
            })
    }

    /// The run's cgroup and how its limits are enforced: a cgroup, rlimits (said plainly;
    /// refused under `resources.strict`) or none.
    func makeCgroup(name: String) throws(CordonError) -> (Cgroup?, LimitsEnforcement) {
        let limits = Cgroup.Limits(memoryBytes: profile.resources.memory, cpus: profile.resources.cpus, pids: profile.resources.pids)
        guard !limits.isEmpty else { return (nil, .none) }
        do {
            let cgroup = try Cgroup.create(name: name, limits: limits)
            return (cgroup, .cgroup(cgroup.version))
        } catch {
            if profile.resources.strict {
                throw CordonError(
                    .hostNotReady, "resource limits cannot be enforced with cgroups: \(error)",
                    hint: "run `cordon doctor`; delegate a cgroup to this user, or set resources.strict: false to accept rlimits")
            }
            // Memory and pids have a fallback (rlimits); a CPU limit has none: the sandbox would
            // run unlimited, so it does not start (fail closed).
            if let cpus = profile.resources.cpus {
                throw CordonError(
                    .hostNotReady, "resources.cpus: \(cpus) cannot be enforced here: cgroups unavailable (\(error))",
                    hint: "run `cordon doctor`; delegate a cgroup with the cpu controller to this user, or drop the CPU limit (--cpus, resources.cpus)")
            }
            warn("cordon: cgroups unavailable (\(error)); memory and pids limited with rlimits instead (see `cordon doctor`)")
            return (nil, .rlimits)
        }
    }

    /// The user's current directory, for `LaunchHint` ("" when unknown).
    static func currentDirectory() -> String {
        guard let cwd = getcwd(nil, 0) else { return "" }
        defer { free(cwd) }
        return String(cString: cwd)
    }

    /// VmHWM of this process (the supervisor, with the proxy in it), from /proc/self/status.
    static func peakResidentKilobytes() -> Int {
        guard let bytes = try? FileIO.readFile("/proc/self/status", limit: 65536) else { return 0 }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return Int(String(line.dropFirst(6).filter(\.isNumber))) ?? 0
        }
        return 0
    }

    /// Approvals of this run; "always" answers go to the profile's approval file.
    func makeApprovals(sandbox: String) -> ApprovalBroker {
        let file = ApprovalFile(paths: paths, profile: profile.name)
        let warn = warn
        return ApprovalBroker(persist: { host, port in
            let pattern = ApprovalFile.pattern(host: host, port: EgressPolicy.defaultPorts.contains(port) ? nil : port)
            do { try file.add(pattern) } catch { warn("cordon: could not save the approval of \(pattern): \(error)") }
        })
    }

    func resolveWorkspace(_ path: String) throws(CordonError) -> String {
        guard let real = realpath(path, nil) else {
            throw CordonError(.notFound, "workspace \(path) does not exist", hint: "pass an existing directory with --workspace")
        }
        defer { free(real) }
        let resolved = String(cString: real)
        guard FileIO.kind(resolved) == .directory else {
            throw CordonError(.invalidArgument, "workspace \(resolved) is not a directory", hint: "pass a project directory with --workspace")
        }
        if resolved == "/" || resolved == host.home || resolved == "/home" || resolved == "/root" && host.uid != 0 {
            throw CordonError(
                .invalidArgument, "refusing to use \(resolved) as the workspace", hint: "run cordon from a project directory, or pass --workspace DIR")
        }
        // Read once: what every mount point shows, for the check of cordon's own directories.
        guard let mounts = MountTable.current() else {
            throw CordonError(
                .sandboxSetup, "cannot read /proc/self/mountinfo",
                hint: "cordon checks that no mounted directory shows its own state or config directory; it needs /proc")
        }
        try refuseOwnDirectories(resolved, what: "the workspace", mounts: mounts)
        for mount in profile.mounts { try refuseOwnDirectories(mount.host, what: "the mount of \(mount.host) at \(mount.sandbox)", mounts: mounts) }
        for copy in profile.copy { try refuseOwnDirectories(copy.host, what: "the copy of \(copy.host) to \(copy.sandbox)", mounts: mounts) }
        return resolved
    }

    /// A host directory shown to the sandbox may neither lie inside cordon's state or config
    /// directory nor contain one: they hold other sandboxes' upper layers and control sockets,
    /// the profiles, approvals and trust store.
    func refuseOwnDirectories(_ path: String, what: String, mounts: MountTable) throws(CordonError) {
        guard let (name, own, via) = paths.ownDirectoryOverlapping(path, mounts: mounts) else { return }
        let resolved = CordonPaths.canonical(path)
        let relation = via.map { "shows, through the mount at \($0)," } ?? (CordonPaths.isWithin(resolved, own) ? "is inside" : "contains")
        let variable = name == "state" ? "XDG_STATE_HOME" : "XDG_CONFIG_HOME"
        let holds = name == "state" ? "other sandboxes' unsynced changes and control sockets" : "your profiles, presets, approvals and trusted profiles"
        let fix =
            via.map { "unmount \($0) or mount a directory that does not show \(own)" }
            ?? "run cordon from the project directory or pass --workspace PROJECT_DIR (and mount only directories that do not contain \(own)), or move cordon's \(name) directory out of it by setting \(variable)"
        throw CordonError(
            .invalidArgument,
            "refusing \(what): \(resolved) \(relation) cordon's \(name) directory \(own), which holds \(holds); the agent must not reach it",
            hint: fix)
    }

    /// The sandbox's state directories. With `range` (run as root) the overlays' upper and work
    /// directories belong to the sandbox's root (its host uid), which writes them, and the
    /// directories holding them may be searched by its group alone (mode 0710), so that init
    /// opens them beneath the detached copy the supervisor hands it.
    func prepareState(layout: SandboxLayout, workspace: String, range: IdentityRange? = nil) throws(CordonError) {
        var layers = [layout.upper, layout.work]
        for index in profile.mounts.indices where profile.mounts[index].mode == .overlay {
            layers += [layout.mountLayer(index) + "/upper", layout.mountLayer(index) + "/work"]
        }
        do {
            // Run as root, init builds the root at `rootMountPoint` instead (it may not reach this directory).
            for dir in [layout.directory] + (range == nil ? [layout.root] : []) + layers {
                try FileIO.makeDirectories(dir, mode: 0o700)
            }
        } catch {
            throw CordonError(.io, "cannot create the sandbox state directory", cause: error.description)
        }
        guard let range else { return }
        for dir in layers where fchownat(AT_FDCWD, dir, range.base, range.base, AT_SYMLINK_NOFOLLOW) != 0 {
            throw CordonError(.io, "cannot give \(dir) to the sandbox's uid \(range.base)", cause: String(cString: strerror(errno)))
        }
        for dir in Set(layers.map(SupervisorTrees.parentDirectory)) {
            guard fchownat(AT_FDCWD, dir, 0, range.base, AT_SYMLINK_NOFOLLOW) == 0, chmod(dir, 0o710) == 0 else {
                throw CordonError(.io, "cannot let the sandbox's uid \(range.base) reach its layers in \(dir)", cause: String(cString: strerror(errno)))
            }
        }
    }

    /// Where init builds the root when it runs as an unprivileged host uid (cordon run as root),
    /// which may not reach the state directory: an empty directory everyone may look up. Each
    /// sandbox mounts its root's tmpfs there in its own mount namespace; the host sees nothing.
    /// Its sibling `stage` is where init attaches the supervisor's detached mounts (PlanExecutor).
    static func rootMountPoint() throws(CordonError) -> String {
        let path = "/run/cordon/root"
        for dir in ["/run/cordon", path, "/run/cordon/stage"] {
            do throws(SystemError) {
                try FileIO.makeDirectories(dir, mode: 0o755)
            } catch {
                throw CordonError(.io, "cannot create \(dir)", cause: error.description)
            }
            var st = stat()
            guard lstat(dir, &st) == 0, st.st_mode & S_IFMT == S_IFDIR, st.st_uid == 0, st.st_mode & 0o022 == 0 else {
                throw CordonError(.io, "\(dir) is not a directory that only root may change", hint: "remove it; cordon makes it again")
            }
        }
        return path
    }

    /// Run as root, init may not read the files the profile copies in (e.g. under /root): the
    /// supervisor reads them and hands their contents over in the plan (text only; anything else
    /// stays a copy init makes itself).
    static func readCopies(_ steps: [SandboxPlan.Step]) throws(CordonError) -> [SandboxPlan.Step] {
        var result: [SandboxPlan.Step] = []
        for step in steps {
            guard case .copy(let source, let target, let optional) = step else {
                result.append(step)
                continue
            }
            let bytes: [UInt8]
            do throws(SystemError) { bytes = try FileIO.readFile(source, limit: 16 * 1024 * 1024) } catch {
                if optional && (error.errno == ENOENT || error.errno == ENOTDIR) { continue }
                throw CordonError(.io, "cannot read \(source) to copy it into the sandbox", cause: error.description)
            }
            if let text = String(validating: bytes, as: UTF8.self) {
                result.append(.file(target: target, contents: text, mode: 0o644))
            } else {
                result.append(step)
            }
        }
        return result
    }

    func acquireLock(_ layout: SandboxLayout) throws(CordonError) -> Int32 {
        let fd = open(layout.lock, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CordonError(.io, "cannot open \(layout.lock)", cause: String(cString: strerror(errno))) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            close(fd)
            throw CordonError(.alreadyExists, "sandbox \(layout.directory.split(separator: "/").last ?? "") is already running", hint: "choose another --name")
        }
        return fd
    }

    /// The workspace's overlay (secure and yolo modes) and the profile's overlay mounts.
    func overlayLayers(layout: SandboxLayout) -> OverlayLayers {
        var layers: [OverlayLayers.Layer] = []
        if profile.mode != .unsafe { layers.append(.init(upper: layout.upper, work: layout.work)) }
        for index in profile.mounts.indices where profile.mounts[index].mode == .overlay {
            layers.append(.init(upper: layout.mountLayer(index) + "/upper", work: layout.mountLayer(index) + "/work"))
        }
        return OverlayLayers(layers: layers)
    }

    /// The sandbox's record as this run will save it; throws when the name belongs to another
    /// workspace or mode.
    /// `new`: the state directory is a spare's, whose record was emptied.
    func prepareRecord(layout: SandboxLayout, name: String, workspace: String, new: Bool = false) throws(CordonError) -> SandboxRecord {
        let now = WallClock.rfc3339()
        var record: SandboxRecord
        if !new, FileIO.kind(layout.record) == .file {
            record = try layout.loadRecord()
            guard record.workspace == workspace else {
                throw CordonError(
                    .alreadyExists, "sandbox \(name) belongs to workspace \(record.workspace), not \(workspace)",
                    hint: "choose another --name, or review it (`cordon diff \(name)`) and remove it (`cordon rm \(name)`)")
            }
            guard record.mode == profile.mode.rawValue || (record.mode != "unsafe" && profile.mode != .unsafe) else {
                throw CordonError(.alreadyExists, "sandbox \(name) was created in \(record.mode) mode", hint: "choose another --name")
            }
        } else {
            record = SandboxRecord(name: name, profile: profile.name, mode: profile.mode.rawValue, workspace: workspace, created: now)
        }
        record.lastStarted = now
        record.overlayMounts = profile.mounts.enumerated().compactMap { index, mount in
            mount.mode == .overlay ? .init(host: mount.host, sandbox: mount.sandbox, upper: layout.mountLayer(index) + "/upper") : nil
        }
        return record
    }

    /// The sandbox's own machine-id: made at its first run, kept in its state directory.
    struct MachineID {
        let value: String
        /// Where a new id is kept; nil when it was read from there.
        let newFile: String?

        /// Writes a new id to the state directory (nothing for one read from it).
        func save() throws(CordonError) {
            guard let newFile else { return }
            // In place (a spare's emptied file, or a new one): torn by a crash, it is only made again.
            do throws(SystemError) { try FileIO.overwrite(newFile, Array((value + "\n").utf8)) } catch {
                throw CordonError(.io, "cannot write \(newFile)", cause: error.description)
            }
        }
    }

    /// The sandbox's machine-id as its state directory keeps it, or a new one to `save`.
    func machineID(layout: SandboxLayout) -> MachineID {
        let path = layout.directory + "/machine-id"
        if let bytes = try? FileIO.readFile(path, limit: 64) {
            let text = String(decoding: bytes.last == 0x0A ? bytes.dropLast() : bytes[...], as: UTF8.self)
            if SandboxIdentifiers.isMachineID(text) { return MachineID(value: text, newFile: nil) }
        }
        return MachineID(value: SandboxIdentifiers.newMachineID(), newFile: path)
    }

    func prepareDataDirectories(plan: SandboxPlan) throws(CordonError) {
        do {
            for data in profile.data {
                try FileIO.makeDirectories(paths.profileDataDirectory(profile.name) + "/" + data.name, mode: 0o700)
            }
        } catch {
            throw CordonError(.io, "cannot create the profile's data directories", cause: error.description)
        }
    }
}
