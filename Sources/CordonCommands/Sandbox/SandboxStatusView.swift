import CordonCore
import CordonOS
import CordonNet
import CordonSandbox

/// How `cordon ls` and `cordon status` show a `SandboxStatus`: table cells (escaped: names,
/// profiles and paths come from a state directory a killed run may have left in any shape) and
/// JSON fields (docs/json.md, "cordon ls").
enum SandboxStatusView {
    /// Asks a running sandbox's supervisor how many connections wait for an answer (bounded:
    /// a supervisor that does not answer within 2 s leaves the count unknown).
    /// A supervisor whose network was never used has not started serving (SwiftNIO, its
    /// threads named `NIO-…`, starts at the first connection, the control socket's included):
    /// no connection can be waiting, and a connection from here would start it, adding its
    /// threads and memory to every idle sandbox `cordon ls` looks at. It is asked only once
    /// serving, or when its process is not known.
    static func withApprovals(_ status: SandboxStatus) -> SandboxStatus {
        guard status.state == .running else { return status }
        var status = status
        if let supervisor = status.supervisor, !servesNetwork(supervisor) {
            status.pendingApprovals = 0
            return status
        }
        let client = ControlClient(name: status.name, layout: status.layout, timeout: 2)
        if let response = try? client.send(.init(op: .approvals)), response.ok { status.pendingApprovals = response.pending?.count ?? 0 }
        return status
    }

    /// Whether the process `pid` runs SwiftNIO's event-loop threads (`/proc/PID/task/*/comm`).
    static func servesNetwork(_ pid: Int32) -> Bool {
        (DirectoryListing.names(at: "/proc/\(pid)/task") ?? []).contains { task in
            (try? FileIO.readFile("/proc/\(pid)/task/\(task)/comm", limit: 64)).map { $0.starts(with: Array("NIO-".utf8)) } ?? false
        }
    }

    static let columns = ["NAME", "PROFILE", "MODE", "STATE", "UPTIME", "CPU", "MEM", "NET(allowed/refused)", "APPROVALS", "CHANGES"]

    static func cells(_ s: SandboxStatus) -> [String] {
        [
            TerminalText.escaped(s.name), TerminalText.escaped(s.record?.profile ?? "-"), TerminalText.escaped(s.record?.mode ?? "-"), s.state.rawValue,
            s.uptimeSeconds.map(duration) ?? "-", s.usage.cpuMicroseconds.map(cpu) ?? "-", s.usage.memoryBytes.map(formatSize) ?? "-",
            "\(s.allowed)/\(s.refused)", s.state == .running ? s.pendingApprovals.map { String($0) } ?? "?" : "-", s.changes.map { String($0) } ?? "?",
        ]
    }

    /// Rows padded to their columns, two spaces apart.
    static func table(_ rows: [[String]]) -> String {
        var widths = [Int](repeating: 0, count: rows.first?.count ?? 0)
        for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// `1h02m`, `3m05s`, `12s`, `2d4h`.
    static func duration(_ seconds: Int) -> String {
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m\(two(seconds % 60))s" }
        if seconds < 86400 { return "\(seconds / 3600)h\(two(seconds % 3600 / 60))m" }
        return "\(seconds / 86400)d\(seconds % 86400 / 3600)h"
    }

    static func cpu(_ microseconds: UInt64) -> String {
        let seconds = Double(microseconds) / 1_000_000
        return seconds < 60 ? "\((seconds * 10).rounded() / 10)s" : duration(Int(seconds))
    }

    /// One sandbox as `cordon ls --json` lists it; `detail` adds what `cordon status` shows.
    static func json(_ s: SandboxStatus, detail: Bool) -> JSONValue {
        func optional(_ value: String?) -> JSONValue { value.map { .string($0) } ?? .null }
        func optional(_ value: Int?) -> JSONValue { value.map { .int($0) } ?? .null }
        func optional(_ value: UInt64?) -> JSONValue { value.map { .int(Int(clamping: $0)) } ?? .null }
        var fields: [(String, JSONValue)] = [
            ("name", .string(s.name)), ("profile", optional(s.record?.profile)), ("mode", optional(s.record?.mode)), ("state", .string(s.state.rawValue)),
            ("problem", optional(s.problem)), ("workspace", optional(s.record?.workspace)), ("created", optional(s.record?.created)),
            ("last_started", optional(s.record?.lastStarted)), ("uptime_seconds", optional(s.uptimeSeconds)),
            ("cpu_usec", optional(s.usage.cpuMicroseconds)), ("memory_bytes", optional(s.usage.memoryBytes)),
            ("network", .object([("allowed", .int(s.allowed)), ("refused", .int(s.refused))])),
            ("pending_approvals", optional(s.pendingApprovals)), ("changes", optional(s.changes)), ("changes_problem", optional(s.changesProblem)),
        ]
        guard detail else { return .object(fields) }
        var lastExit: JSONValue = .null
        if let exit = s.lastExit {
            lastExit = .object([
                ("status", .int(exit.status)), ("duration_ms", .int(exit.durationMS)), ("oom_kills", .int(exit.oomKills)), ("time", optional(s.lastEnded)),
            ])
        }
        var command: JSONValue = .null
        if case .start(let start)? = s.lastStart?.kind { command = .array(start.command.map { .string($0) }) }
        fields += [
            ("state_directory", .string(s.layout.directory)),
            (
                "overlay_mounts",
                .array(
                    (s.record?.overlayMounts ?? []).map {
                        .object([("host", .string($0.host)), ("sandbox", .string($0.sandbox)), ("upper", .string($0.upper))])
                    })
            ),
            ("command", command), ("last_exit", lastExit), ("last_setup_error", optional(s.lastSetupError)),
            ("supervisor_pid", optional(s.supervisor.map(Int.init))), ("cgroups", .array(s.cgroups.map { .string($0) })),
            ("ports", .array(s.ports.map(\.json))),
        ]
        return .object(fields)
    }
}
