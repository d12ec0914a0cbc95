import ArgumentParser
import CordonCore
import CordonOS
import CordonSandbox

/// `cordon status NAME`: one sandbox in detail.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show one sandbox: state, workspace, overlay mounts, resources, network, approvals, changes and its last exit.",
        discussion: "Exit status: 0 shown, 2 no such sandbox."
    )

    @OptionGroup var sandbox: SandboxSelection

    @Flag(help: "Print JSON: the `cordon ls --json` fields and more (docs/json.md, \"cordon status\").")
    var json = false

    func run() throws {
        let layout: SandboxLayout
        do { layout = try sandbox.layout() } catch {
            Console.error(error)
            throw ExitCode(2)
        }
        let status = SandboxStatusView.withApprovals(SandboxStatus.read(name: sandbox.name, layout: layout))
        if json {
            JSONOutput.print([("sandbox", SandboxStatusView.json(status, detail: true))])
            return
        }
        print(Console.line(Self.text(status)), terminator: "")
    }

    /// `key: value` lines; values from the state directory are escaped by `Console.line`.
    static func text(_ s: SandboxStatus) -> String {
        var lines: [(String, String)] = [("name", s.name), ("state", s.state.rawValue)]
        if let problem = s.problem { lines.append(("problem", problem)) }
        if let record = s.record {
            lines += [("profile", record.profile), ("mode", record.mode), ("workspace", record.workspace), ("created", record.created)]
            if let started = record.lastStarted { lines.append(("last started", started)) }
            for mount in record.overlayMounts { lines.append(("overlay mount", "\(mount.host) at \(mount.sandbox) (upper \(mount.upper))")) }
        }
        lines.append(("state directory", s.layout.directory))
        if case .start(let start)? = s.lastStart?.kind { lines.append(("command", start.command.joined(separator: " "))) }
        if let uptime = s.uptimeSeconds { lines.append(("uptime", SandboxStatusView.duration(uptime))) }
        if let pid = s.supervisor { lines.append(("supervisor", "pid \(pid)")) }
        if s.state == .running {
            let cpu = s.usage.cpuMicroseconds.map(SandboxStatusView.cpu) ?? "-"
            let memory = s.usage.memoryBytes.map(formatSize) ?? "-"
            lines.append(("resources", "CPU \(cpu), memory \(memory)" + (s.cgroups.isEmpty ? " (no cgroup)" : "")))
            lines.append(("ports", s.ports.isEmpty ? "none" : s.ports.map(\.description).joined(separator: ", ")))
            lines.append(("approvals", s.pendingApprovals.map { "\($0) waiting" + ($0 > 0 ? " (`cordon approvals \(s.name)`)" : "") } ?? "unknown"))
        }
        lines.append(("network", "\(s.allowed) allowed, \(s.refused) refused"))
        switch s.changes {
        case 0?: lines.append(("changes", "none"))
        case let count?: lines.append(("changes", "\(count) held for review (`cordon diff \(s.name)`)"))
        case nil: lines.append(("changes", "unknown: " + (s.changesProblem ?? "")))
        }
        if let exit = s.lastExit {
            lines.append(
                ("last exit", "status \(exit.status) after \(SandboxStatusView.duration(exit.durationMS / 1000))" + (s.lastEnded.map { " at \($0)" } ?? "")))
        }
        if let error = s.lastSetupError { lines.append(("last set-up failed", error)) }
        if s.state == .crashed { lines.append(("note", "its last run has no end: the supervisor was killed or the host went down")) }
        return lines.map { "\($0.0): \($0.1)" }.joined(separator: "\n")
    }
}
