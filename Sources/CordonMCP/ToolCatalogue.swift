import CordonConfig
public import MCP

/// The tools `cordon mcp` offers: names, descriptions, and the JSON schemas of their inputs. The
/// schema's properties are also the only arguments a call may pass (`ToolArguments`). What is
/// not here is absent on purpose (docs/threat-model.md): approving egress, reading or setting
/// secrets, changing policy, `--force`/`--yes` on sync, an inline profile, a workspace chosen by
/// the agent.
public enum ToolCatalogue {
    public enum Name: String, CaseIterable, Sendable {
        case list = "sandbox_list"
        case status = "sandbox_status"
        case up = "sandbox_up"
        case exec = "sandbox_exec"
        case diff = "sandbox_diff"
        case sync = "sandbox_sync"
        case down = "sandbox_down"
        case networkLog = "network_log"
        case auditLog = "audit_log"
        case usage = "usage"
    }

    /// `exec`'s default timeout, in seconds (shorter when the sandbox's profile caps it lower:
    /// `mcp.max_exec_timeout`, 600 s unless set, at most a day).
    public static let execDefaultTimeout: Double = 120
    /// Most bytes of each of `exec`'s streams returned (the rest is counted, and said).
    public static let outputLimit = 1 << 20
    /// The log tools' default and largest number of lines.
    public static let defaultLines = 50
    public static let maximumLines = 1000

    private static let sandbox: (String, Value) = ("sandbox", ["type": "string", "description": "The sandbox's name (as `sandbox_list` shows it)."])

    /// Each tool's input properties, in the order the schema lists them.
    static func properties(_ name: Name) -> [(String, Value)] {
        switch name {
        case .list: [("all", ["type": "boolean", "description": "Also stopped sandboxes without changes (default false)."])]
        case .status, .diff, .down: [sandbox]
        case .up:
            [
                ("name", ["type": "string", "description": "The sandbox's name (default: generated)."]),
                (
                    "profile",
                    [
                        "type": "string",
                        "description":
                            "The name of a profile the user has (their profiles directory, or a built-in one such as default); never a path or a profile's text.",
                    ]
                ),
            ]
        case .exec:
            [
                sandbox,
                (
                    "argv",
                    [
                        "type": "array", "items": ["type": "string"], "minItems": 1,
                        "description": "The command and its arguments (no shell unless you run one).",
                    ]
                ),
                (
                    "timeout_seconds",
                    [
                        "type": "number", "minimum": 1, "maximum": .double(Profile.MCP.maxExecTimeoutCeiling),
                        "description": .string(
                            "Ends the command after this long (default \(Int(execDefaultTimeout)); at most the sandbox profile's mcp.max_exec_timeout, "
                                + "\(Int(Profile.MCP.defaultMaxExecTimeout)) unless it says otherwise)."),
                    ]
                ),
                ("workdir", ["type": "string", "description": "Absolute working directory inside the sandbox (default /workspace)."]),
            ]
        case .sync:
            [
                sandbox,
                (
                    "apply",
                    [
                        "type": "boolean",
                        "description":
                            "Apply the changes to the host (default false: a dry run). Only when the sandbox's profile sets mcp.allow_apply: true, and never when the gate has findings.",
                    ]
                ),
            ]
        case .networkLog, .auditLog:
            [
                sandbox,
                (
                    "lines",
                    [
                        "type": "integer", "minimum": 1, "maximum": .int(maximumLines),
                        "description": .string("How many of the last lines (default \(defaultLines), at most \(maximumLines))."),
                    ]
                ),
            ]
        case .usage:
            [
                ("sandbox", ["type": "string", "description": "Only this sandbox (default: every one with usage)."]),
                ("since", ["type": "string", "description": "Only usage from then on: a date (2026-12-01), RFC 3339, or a duration such as 7d."]),
            ]
        }
    }

    static func required(_ name: Name) -> [String] {
        switch name {
        case .list, .up, .usage: []
        case .exec: ["sandbox", "argv"]
        default: ["sandbox"]
        }
    }

    static func description(_ name: Name) -> String {
        switch name {
        case .list: "List sandboxes (running, crashed, broken, or holding changes; all: every one). The `cordon ls --json` document."
        case .status: "One sandbox in detail: state, workspace, resources, network, changes, last exit. The `cordon status --json` document."
        case .up:
            "Start a sandbox that keeps running, from a profile the user has on disk, on the workspace `cordon mcp` serves. The `cordon up --json` document."
        case .exec:
            "Run a command in a running sandbox, under its policy. Returns exit_code, stdout and stderr (each cut at 1 MiB, said when cut); ended after timeout_seconds."
        case .diff: "What a sandbox changed in its workspace and overlay mounts. The `cordon diff --json` document."
        case .sync:
            "Check a sandbox's changes through the sync gate (dry run). With apply: true, apply them, only when the profile allows it (mcp.allow_apply) and the gate finds nothing. The `cordon sync --json` document."
        case .down: "Stop a running sandbox; its changes are kept for diff and sync."
        case .networkLog: "The last lines of a sandbox's network log: each connection allowed or refused."
        case .auditLog: "The last records of a sandbox's audit log, exactly as stored (hash-chained)."
        case .usage: "LLM token usage by sandbox, profile, provider and model. The `cordon usage --json` document."
        }
    }

    static func annotations(_ name: Name) -> Tool.Annotations {
        switch name {
        case .list, .status, .diff, .networkLog, .auditLog, .usage: .init(readOnlyHint: true, openWorldHint: false)
        case .up: .init(destructiveHint: false, idempotentHint: false, openWorldHint: false)
        case .exec: .init(destructiveHint: false, openWorldHint: false)
        case .sync: .init(destructiveHint: true, idempotentHint: false, openWorldHint: false)
        case .down: .init(destructiveHint: false, idempotentHint: true, openWorldHint: false)
        }
    }

    public static func tool(_ name: Name) -> Tool {
        let properties = properties(name)
        let schema: Value = [
            "type": "object",
            "properties": .object(Dictionary(uniqueKeysWithValues: properties)),
            "required": .array(required(name).map { .string($0) }),
            "additionalProperties": false,
        ]
        return Tool(name: name.rawValue, description: description(name), inputSchema: schema, annotations: annotations(name))
    }

    /// Every tool, in catalogue order.
    public static var all: [Tool] { Name.allCases.map(tool) }

    /// The argument names `name` accepts.
    static func allowed(_ name: Name) -> [String] { properties(name).map(\.0) }
}
