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
            Blocking findings are never applied. Host-execution traps need approval (--yes or the \
            prompt); host files changed since the sandbox started need --force. Without --partial a \
            change set with any held entry applies nothing. An interrupted sync is completed or \
            rolled back first. Exit status: 0 applied or nothing to do, 1 held back by findings, 2 error.
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

    func validate() throws {
        _ = try OutputFormat(json: json, sarif: sarif)
        if yes && auto { throw ValidationError("--yes and --auto cannot be combined: --auto never approves") }
    }

    /// `--json`: docs/json.md, "cordon sync".
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
        let record = try layout.loadRecord()
        // Stopped: held so (no run can start and write the upper while this sync reads and applies
        // it), its files are what the gate reads and may be renamed into place rather than copied.
        let stopped = try layout.holdStopped()
        defer { if let stopped { close(stopped) } }
        var applier = SyncApplier(workspace: record.workspace, upper: layout.upper, journalPath: layout.syncJournal)
        // A running sandbox's overlay is mounted over the upper: applied entries stay in it (the
        // host now equals them) and leave when the sandbox has stopped.
        applier.keepUpper = stopped == nil
        applier.moveFiles = stopped != nil
        let recovered = dryRun ? nil : try applier.recover()
        // Running: the agent may rewrite a file the moment the gate has read it. Every changed file
        // is copied into cordon's state as the change set is read; the gate scans the copy and the
        // apply writes the copy, so exactly the bytes checked reach the host.
        try AnchoredDirectory.removeTree(layout.snapshot)
        defer { try? AnchoredDirectory.removeTree(layout.snapshot) }
        // A dry run applies nothing, so it reads the live upper: no copy of the change set.
        let loaded = try SandboxChanges.load(name: sandbox.name, layout: layout, snapshot: stopped == nil && !dryRun ? layout.snapshot : nil)
        if loaded.changeSet.contents != layout.upper { applier.source = loaded.changeSet.contents }
        var gatePolicy = try policy(paths: paths, workspace: record.workspace).overriding(scannerConfig: gitleaksConfig, flagArchives: flagArchives)
        // The sandbox's own profile and the files it names, and cordon's config and state: never synced.
        gatePolicy.protectedPaths = ProtectedPath.forSandbox(record: record, paths: paths)
        if let profile, let source = try? profileSource(paths: paths, reference: profile) {
            gatePolicy.protectedPaths += ProtectedPath.inside(workspace: record.workspace, files: [(source, "the profile given with --profile")])
        }
        let gate = try SyncGate(policy: gatePolicy, scannerCache: paths.scannerCache)
        var report = try gate.evaluate(loaded.changeSet, created: loaded.created)
        // What an earlier sync of the running sandbox wrote is no change of the user's.
        var writes = HostWrites.load(from: layout.hostWrites)
        report.findings = writes.droppingOwnConflicts(report.findings, workspace: record.workspace)

        let format = try OutputFormat(json: json, sarif: sarif)
        var approve = yes
        let interactive = !yes && !auto && !dryRun && format == .text && isatty(0) == 1
        var plan = SyncPlan(report: report, approve: approve, force: force)
        if interactive && !plan.apply.isEmpty && plan.held.contains(where: { plan.onlyNeedsApproval($0) }) {
            printHuman(report, plan: plan, recovered: recovered)
            print("Approve the flagged host-execution changes and apply? [y/N] ", terminator: "")
            approve = (readLine() ?? "").lowercased().hasPrefix("y")
            plan = SyncPlan(report: report, approve: approve, force: force)
        } else if interactive && !plan.apply.isEmpty {
            printHuman(report, plan: plan, recovered: recovered)
            print("Apply \(plan.apply.count) changes to \(record.workspace)? [y/N] ", terminator: "")
            guard (readLine() ?? "").lowercased().hasPrefix("y") else {
                print("nothing applied")
                return
            }
        }

        let everything = plan.held.isEmpty
        let toApply = (everything || partial) ? plan.apply : []
        var applied: [String] = []
        if !dryRun && !toApply.isEmpty {
            applied = try applier.apply(toApply, allChanges: report.changes).applied
            // Running: the upper keeps what was applied, and the next sync reads it again.
            if stopped == nil {
                try writes.record(applied, workspace: record.workspace)
                try writes.save(to: layout.hostWrites)
            }
        }
        if !dryRun {
            AuditLog.record(
                [.sync(via: "sync", applied: applied, held: plan.held.map(\.path))], layout: layout, sandbox: sandbox.name, warn: { Console.note($0) })
        }
        let code: Int32 = plan.held.isEmpty ? 0 : 1
        switch format {
        case .json:
            try JSONOutput.print(
                Report(
                    sandbox: sandbox.name, dryRun: dryRun, applied: dryRun ? plan.apply.map(\.path) : applied, held: plan.held.map(\.path),
                    findings: report.findings, summary: loaded.changeSet.summary, recovered: recovered, exitCode: code))
        case .sarif:
            print(SARIFReport.json(findings: report.findings, toolVersion: CordonVersion.string))
        case .text:
            if !interactive { printHuman(report, plan: plan, recovered: recovered) }
        }
        if format == .text {
            if dryRun {
                print("dry run: \(plan.apply.count) changes would apply, \(plan.held.count) held")
            } else if toApply.isEmpty && !plan.held.isEmpty {
                print(
                    "nothing applied: \(plan.held.count) change\(plan.held.count == 1 ? "" : "s") held back"
                        + (partial ? "" : " (use --partial to apply the clean ones)"))
            } else {
                print("applied \(applied.count) changes to \(record.workspace)" + (plan.held.isEmpty ? "" : ", \(plan.held.count) held back"))
            }
        }
        if code != 0 { throw ExitCode(code) }
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

    private func printHuman(_ report: SyncGate.Report, plan: SyncPlan, recovered: String?) {
        if let recovered { print(recovered) }
        if report.changes.isEmpty { print("\(sandbox.name): no changes") }
        let held = Set(plan.held.map(\.path))
        for change in report.changes {
            let mark = held.contains(change.path) ? "held" : "ok"
            print("\(DiffCommand.line(change, stat: false))  [\(mark)]")
        }
        for finding in report.findings.sorted(by: { $0.severity > $1.severity }) { print(finding.rendered) }
    }
}
