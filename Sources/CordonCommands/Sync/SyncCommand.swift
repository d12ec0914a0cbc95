import ArgumentParser
import CordonAudit
import CordonConfig
import CordonCore
import CordonFS
import CordonOS
import CordonGate
import CordonScan
import CordonSandbox

#if canImport(Glibc)
    import Glibc
#endif

/// `cordon sync NAME`: review a sandbox's changes through the gate and apply them to the host.
struct SyncCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Check a sandbox's changes (secrets, policy, traps, tricks, conflicts) and apply them to the host.",
        discussion: """
            Covers the workspace and every `mounts` entry with `mode: overlay` (shown with its path in \
            the sandbox, /data/x). Blocking findings are never applied. Host-execution traps need \
            approval (--yes or the prompt); host files changed since the sandbox started need \
            --force. Without --partial a change set with any held entry applies nothing; at a \
            terminal the prompt offers what can be done. --dry-run reports what the same command \
            would do. An interrupted sync is completed or rolled back first. With --branch B the \
            changes the same gate lets through become one commit on a new branch B of the git \
            repository holding the workspace (on top of HEAD); the working tree, the index, HEAD \
            and the branch checked out are not touched. Exit status: 0 applied or nothing to do, \
            1 held back by findings, 2 error.
            """
    )

    @OptionGroup var sandbox: SandboxSelection

    @Flag(help: "Check and report, apply nothing.")
    var dryRun = false

    @Flag(help: "Approve entries that need approval (host-execution traps) without asking.")
    var yes = false

    @Flag(help: "Apply without asking when nothing needs approval; hold everything otherwise.")
    var auto = false

    @Flag(help: "Apply the clean entries and hold back the flagged ones.")
    var partial = false

    @Flag(help: "Overwrite host files that changed since the sandbox started.")
    var force = false

    @Flag(help: "Print the report as JSON.")
    var json = false

    @Flag(help: "Print the findings as SARIF 2.1.0.")
    var sarif = false

    @Option(
        name: .customLong("gitleaks-config"),
        help: "Scan with this gitleaks TOML config instead of cordon's default rules (overrides the profile's sync.gitleaks_config).")
    var gitleaksConfig: String?

    @Flag(help: "Hold archives (zip, tar, gzip, …) for approval: the scanner does not look inside them.")
    var flagArchives = false

    @Option(help: ArgumentHelp("Apply this profile's sync: settings (allow, deny, blocked_extensions, size limits, gitleaks_config).", valueName: "FILE|NAME"))
    var profile: String?

    @Option(
        help: ArgumentHelp(
            "Commit the changes to this new branch of the workspace's git repository instead of applying them to the working tree.",
            valueName: "BRANCH"))
    var branch: String?

    @Option(
        help: ArgumentHelp(
            "With --branch: the commit's author (default: the repository's user.name and user.email, else cordon <cordon@localhost>).",
            valueName: "NAME <EMAIL>"))
    var author: String?

    @Option(help: ArgumentHelp("With --branch: the commit message (default: the sandbox, its profile and the changed paths).", valueName: "TEXT"))
    var message: String?

    func validate() throws {
        _ = try OutputFormat(json: json, sarif: sarif)
        if branch == nil && (author != nil || message != nil) { throw ValidationError("--author and --message need --branch") }
        if let message, message.allSatisfy({ $0.isWhitespace }) { throw ValidationError("--message is empty") }
        if yes && auto { throw ValidationError("--yes and --auto cannot be combined: --auto never approves") }
    }

    /// `--json`: docs/json.md, "cordon sync". `applied`, `held`, `findings` and `summary` are the
    /// workspace's; each overlay mount's are in `mounts`.
    struct Report: Encodable {
        var version = JSONOutput.version
        var sandbox: String
        var dryRun: Bool
        var applied: [String]
        var held: [String]
        var findings: [Finding]
        var summary: ChangeSet.Summary
        var recovered: String?
        var exitCode: Int32
        var mounts: [MountReport] = []
        /// With --branch: the branch made (or that a dry run would make).
        var branch: String?
        /// With --branch: the commit made; absent for a dry run or when nothing was committed.
        var commit: String?
        /// With --branch: new files git ignores, not committed (they stay in the sandbox).
        var ignored: [String]?
    }

    /// One overlay mount's part of the report: paths relative to it.
    struct MountReport: Encodable {
        /// Where the sandbox sees it (`/data`).
        var mount: String
        /// The host directory its changes apply to.
        var host: String
        var applied: [String]
        var held: [String]
        var findings: [Finding]
        var summary: ChangeSet.Summary
    }

    /// One target's change set as the gate saw it, and the applier for it.
    struct Checked {
        var target: SyncTarget
        var applier: SyncApplier
        var changeSet: ChangeSet
        var report: SyncGate.Report
        var writes: HostWrites
    }

    func run() throws {
        do {
            try execute()
        } catch let exit as ExitCode {
            throw exit
        } catch {
            Console.error(error)
            throw ExitCode(2)
        }
    }

    private func execute() throws {
        let paths = CordonPaths.current()
        let layout = try sandbox.layout(paths: paths)
        // No sandbox: say so, rather than fail on its missing sync lock.
        _ = try layout.loadRecord()
        // One sync at a time per sandbox (yolo's rounds take the same lock).
        var other: (any Error)?
        try layout.withSyncLock { () throws(CordonError) in
            do { try execute(layout: layout, paths: paths) } catch let error as CordonError { throw error } catch { other = error }
        }
        if let other { throw other }
    }

    private func execute(layout: SandboxLayout, paths: CordonPaths) throws {
        var loaded = try SandboxChanges.load(name: sandbox.name, layout: layout)
        let record = loaded.record
        // --branch: the repository, the branch name and who commits are checked before anything else.
        let branchTarget = try branch.map { branch throws in try BranchTarget.open(branch: branch, author: author, message: message, record: record) }
        if branchTarget != nil { loaded.targets = try BranchTarget.workspaceOnly(loaded.targets, record: record) }
        // Stopped: held so (no run can start and write the upper while this sync reads and applies
        // it), its files are what the gate reads and may be renamed into place rather than copied.
        let stopped = try layout.holdStopped()
        defer { if let stopped { close(stopped) } }
        let basePolicy = try policy(paths: paths, workspace: record.workspace).overriding(scannerConfig: gitleaksConfig, flagArchives: flagArchives)
        let profileFile = profile.flatMap { try? profileSource(paths: paths, reference: $0) }
        // One scanner (its rules compiled once) for every target.
        let scanner = try SyncGate(policy: basePolicy, scannerCache: paths.scannerCache).scanner
        // Running: the agent may rewrite a file the moment the gate has read it. Every changed file
        // is copied into cordon's state as the change set is read; the gate scans the copy and the
        // apply writes the copy, so exactly the bytes checked reach the host.
        defer { for target in loaded.targets { try? AnchoredDirectory.removeTree(target.snapshot) } }
        var checked: [Checked] = []
        var recovered: [String] = []
        for target in loaded.targets {
            var applier = SyncApplier(workspace: target.host, upper: target.upper, journalPath: target.journal)
            // A running sandbox's overlay is mounted over the upper: applied entries stay in it (the
            // host now equals them) and leave when the sandbox has stopped.
            applier.keepUpper = stopped == nil
            applier.moveFiles = stopped != nil
            if !dryRun, let done = try applier.recover() { recovered.append(target.mount == nil ? done : "\(target.label): \(done)") }
            try AnchoredDirectory.removeTree(target.snapshot)
            // A dry run applies nothing, so it reads the live upper: no copy of the change set.
            let set = try target.changeSet(snapshot: stopped == nil && !dryRun ? target.snapshot : nil, limits: basePolicy.snapshotLimits)
            if set.contents != target.upper { applier.source = set.contents }
            var gatePolicy = basePolicy
            // The sandbox's own profile and the files it names, and cordon's config and state: never
            // synced, into the workspace or into a mount's host directory.
            gatePolicy.protectedPaths = ProtectedPath.forSandbox(record: record, paths: paths, root: target.host)
            if let profileFile {
                gatePolicy.protectedPaths += ProtectedPath.inside(workspace: target.host, files: [(profileFile, "the profile given with --profile")])
            }
            var report = try SyncGate(policy: gatePolicy, scanner: scanner).evaluate(set, created: loaded.created)
            // What an earlier sync of the running sandbox wrote is no change of the user's.
            let writes = HostWrites.load(from: target.hostWrites)
            report.findings = writes.droppingOwnConflicts(report.findings, workspace: target.host)
            checked.append(Checked(target: target, applier: applier, changeSet: set, report: report, writes: writes))
        }
        let recoveredText = recovered.isEmpty ? nil : recovered.joined(separator: "\n")

        let format = try OutputFormat(json: json, sarif: sarif)
        func decide(approve: Bool, partial: Bool) -> SyncDecision {
            SyncDecision(plans: checked.map { SyncPlan(report: $0.report, approve: approve, force: force) }, partial: partial)
        }
        var decision = decide(approve: yes, partial: partial)
        let interactive = !yes && !auto && !dryRun && format == .text && isatty(0) == 1
        if format == .text { printHuman(checked, decision: decision, recovered: recoveredText) }
        if interactive {
            let approved = decide(approve: true, partial: partial)
            if let choices = SyncChoices.make(
                decision: decision, approved: approved, destinations: destinations(checked, decision: decision, target: branchTarget))
            {
                switch ask(choices, checked: checked) {
                case .apply: break
                case .approve: decision = decide(approve: true, partial: true)
                case .partial: decision.partial = true
                case .showFindings, .abort:
                    print("nothing applied")
                    if decision.held > 0 { throw ExitCode(1) }
                    return
                }
            }
        }

        var applied: [[String]] = checked.map { _ in [] }
        var made: GitBranchCommit.Made?
        // New files git ignores are not committed (they stay in the sandbox); said once, dry run or not.
        let ignored = try branchTarget.map { target throws(CordonError) in try target.splitIgnored(decision.toApply.first ?? []).ignored } ?? []
        let ignoredSet = Set(ignored)
        if let note = BranchTarget.ignoredNote(ignored, dryRun: dryRun), format == .text { print(note) }
        if !dryRun {
            for (index, changes) in decision.toApply.enumerated() where !changes.isEmpty {
                var entry = checked[index]
                if let branchTarget {
                    let committing = changes.filter { !ignoredSet.contains($0.path) }
                    made = try branchTarget.commit(committing, contents: entry.changeSet.contents, sandbox: sandbox.name, profile: record.profile)
                    // Committed: the changes count as synced, as an apply's do (they leave a stopped
                    // sandbox's upper; a running one's stays as it is).
                    if made != nil {
                        try entry.applier.dropFromUpper(committing, allChanges: entry.report.changes)
                        applied[index] = committing.map(\.path)
                    }
                    continue
                }
                applied[index] = try entry.applier.apply(changes, allChanges: entry.report.changes).applied
                // Running: the upper keeps what was applied, and the next sync reads it again.
                if stopped == nil {
                    try entry.writes.record(applied[index], workspace: entry.target.host)
                    try entry.writes.save(to: entry.target.hostWrites)
                }
                checked[index] = entry
            }
        }
        if !dryRun {
            // Paths under an overlay mount are recorded as the sandbox sees them.
            func seen(_ index: Int, _ path: String) -> String { checked[index].target.mount.map { $0.sandbox + "/" + path } ?? path }
            let appliedPaths = applied.enumerated().flatMap { index, paths in paths.map { seen(index, $0) } }
            let heldPaths = decision.plans.enumerated().flatMap { index, plan in plan.held.map { seen(index, $0.path) } }
            AuditLog.record(
                [.sync(via: "sync", applied: appliedPaths, held: heldPaths, branch: made == nil ? nil : branch, commit: made?.commit)], layout: layout,
                sandbox: sandbox.name, warn: { Console.note($0) })
        }
        let code: Int32 = decision.held == 0 ? 0 : 1
        switch format {
        case .json:
            // A dry run lists what the same command without --dry-run would apply.
            let listed = dryRun ? decision.toApply.map { $0.map(\.path).filter { !ignoredSet.contains($0) } } : applied
            var report = Report(
                sandbox: sandbox.name, dryRun: dryRun, applied: [], held: [], findings: [], summary: .init(), recovered: recoveredText,
                exitCode: code)
            if branchTarget != nil { (report.branch, report.commit, report.ignored) = (branch, made?.commit, ignored) }
            for (index, entry) in checked.enumerated() {
                let held = decision.plans[index].held.map(\.path)
                if let mount = entry.target.mount {
                    report.mounts.append(
                        MountReport(
                            mount: mount.sandbox, host: mount.host, applied: listed[index], held: held, findings: entry.report.findings,
                            summary: entry.changeSet.summary))
                } else {
                    (report.applied, report.held, report.findings, report.summary) = (listed[index], held, entry.report.findings, entry.changeSet.summary)
                }
            }
            try JSONOutput.print(report)
        case .sarif:
            // A mount's findings name its paths as the sandbox sees them.
            print(SARIFReport.json(findings: checked.flatMap { shownFindings($0) }, toolVersion: CordonVersion.string))
        case .text:
            let done = dryRun ? nil : applied.reduce(0) { $0 + $1.count }
            print(decision.outcome(destinations: destinations(checked, decision: decision, target: branchTarget), dryRun: dryRun, applied: done))
            if let branchTarget {
                print(
                    branchTarget.outcome(
                        (decision.toApply.first ?? []).filter { !ignoredSet.contains($0.path) }, made: made, dryRun: dryRun, sandbox: sandbox.name,
                        profile: record.profile))
            }
        }
        if code != 0 { throw ExitCode(code) }
    }

    /// Asks at the terminal until the answer is a choice that decides (showing the findings asks again).
    private func ask(_ choices: SyncChoices, checked: [Checked]) -> SyncChoices.Choice {
        while true {
            if !choices.listing.isEmpty { print(choices.listing) }
            print(choices.question, terminator: "")
            fflush(nil)
            let choice = choices.choice(for: readLine())
            guard choice == .showFindings else { return choice }
            printFindings(checked)
        }
    }

    /// The host directories that get changes from `decision` (the workspace first), or the branch.
    private func destinations(_ checked: [Checked], decision: SyncDecision, target: BranchTarget? = nil) -> [String] {
        if let target { return [target.destination] }
        return zip(checked, decision.plans).filter { !$0.1.apply.isEmpty }.map(\.0.target.host)
    }

    private func profileSource(paths: CordonPaths, reference: String) throws -> String {
        try ProfileLoader(paths: paths, homeDirectory: HostFacts.current().home).load(reference: reference, currentDirectory: CurrentDirectory.path).source
    }

    /// The profile's `sync:` section when `--profile` is given; cordon's defaults otherwise.
    private func policy(paths: CordonPaths, workspace: String) throws -> GatePolicy {
        guard let profile else { return GatePolicy() }
        let currentDirectory = CurrentDirectory.path
        let loaded = try ProfileLoader(paths: paths, homeDirectory: HostFacts.current().home).load(reference: profile, currentDirectory: currentDirectory)
        // Its gate settings (a gitleaks config, size limits) count only once its content is trusted.
        if case .untrusted(_, let previously) = try ProfileTrust.verdict(for: loaded, workspace: workspace, currentDirectory: currentDirectory, paths: paths) {
            throw CordonError(
                .policyDenied,
                TrustReport.untrusted(
                    source: loaded.source, changed: previously != nil, grants: ProfileTrust.grants(loaded.profile),
                    inputs: ProfileTrust.inputs(of: loaded), outcome: "nothing was applied", prefix: ""))
        }
        let sync = loaded.profile.sync
        return GatePolicy(
            syncAllow: sync.allow, deny: sync.deny, blockedExtensions: sync.blockedExtensions, maxFileSize: sync.maxFileSize,
            maxTotalSize: sync.maxTotalSize, gitleaksConfig: sync.gitleaksConfig)
    }

    private func printHuman(_ checked: [Checked], decision: SyncDecision, recovered: String?) {
        if let recovered { print(recovered) }
        if checked.allSatisfy({ $0.report.changes.isEmpty }) { print("\(sandbox.name): no changes") }
        for (entry, plan) in zip(checked, decision.plans) {
            let held = Set(plan.held.map(\.path))
            for change in entry.report.changes {
                // A clean entry of a change set that something else holds back applies only with --partial.
                let mark = held.contains(change.path) ? "held" : decision.applies ? "ok" : "clean, held with the set"
                print("\(DiffCommand.line(change, stat: false, shown: entry.target.shown(change.path)))  [\(mark)]")
            }
        }
        printFindings(checked)
    }

    private func printFindings(_ checked: [Checked]) {
        for finding in checked.flatMap({ shownFindings($0) }).sorted(by: { $0.severity > $1.severity }) { print(finding.rendered) }
    }

    /// The target's findings with their paths as cordon shows them (a mount's as `/data/x`).
    private func shownFindings(_ entry: Checked) -> [Finding] {
        entry.report.findings.map(entry.target.shown)
    }
}
