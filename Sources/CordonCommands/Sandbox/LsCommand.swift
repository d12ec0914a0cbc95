import ArgumentParser
import CordonCore
import CordonSandbox

/// `cordon ls`: the sandboxes that need a look — running, crashed, broken, or holding changes.
struct LsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List sandboxes: running ones and those that still hold changes (--all: every one).",
        discussion: """
            Columns: name, profile, mode, state (running, stopped, crashed: its supervisor was killed \
            mid-run, broken: its record cannot be read), uptime, CPU time and memory now (cgroup), \
            connections allowed/refused, connections waiting for approval, unsynced changes \
            ("?": too many to count here or unreadable; `cordon status NAME` says why). Without \
            --all, stopped sandboxes without changes are left out (`cordon prune` removes them).
            """
    )

    @Flag(help: "List every sandbox, also stopped ones without changes.")
    var all = false

    @Flag(help: "Print JSON: {version, sandboxes: [{name, profile, mode, state, …}]} (docs/json.md).")
    var json = false

    func run() throws {
        let every = SandboxStatus.all(paths: .current())
        let shown = every.filter { all || Self.needsALook($0) }.map(SandboxStatusView.withApprovals)
        if json {
            JSONOutput.print([("sandboxes", .array(shown.map { SandboxStatusView.json($0, detail: false) }))])
            return
        }
        if shown.isEmpty {
            let hidden = every.count - shown.count
            print(hidden > 0 ? "no sandbox running or holding changes (\(hidden) stopped: `cordon ls --all`)" : "no sandboxes")
            return
        }
        print(SandboxStatusView.table([SandboxStatusView.columns] + shown.map(SandboxStatusView.cells)))
    }

    /// Listed without --all: running, crashed or broken (something to look at), or holding
    /// changes (counted, or not countable).
    static func needsALook(_ status: SandboxStatus) -> Bool {
        status.state != .stopped || status.holdsChanges
    }
}
