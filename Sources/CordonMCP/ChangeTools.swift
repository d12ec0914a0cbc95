import CordonCore
import FoundationEssentials
import MCP

/// `sandbox_diff` and `sandbox_sync`: `cordon diff --json` and `cordon sync --json`. A sync is a
/// dry run unless the call says `apply: true`, the sandbox's profile sets `mcp.allow_apply: true`,
/// and a dry run just before finds nothing and holds nothing; the apply itself is `cordon sync
/// --auto` (applies only when nothing needs approval), never `--yes`, `--force` or `--partial`.
enum ChangeTools {
    static func diff(_ arguments: ToolArguments, _ context: MCPContext) async throws(ToolError) -> Value {
        let name = try arguments.requiredString("sandbox")
        _ = try context.existingSandbox(name)
        return try await context.document(["diff", name, "--json"])
    }

    static func sync(_ arguments: ToolArguments, _ context: MCPContext, progress: MCPContext.Progress?) async throws(ToolError) -> Value {
        let name = try arguments.requiredString("sandbox")
        let apply = try arguments.bool("apply") ?? false
        let layout = try context.existingSandbox(name)
        // Exit 1 (something held) still prints the report.
        let dryRun = try await context.document(["sync", name, "--dry-run", "--json"], progress: progress, acceptFailure: true)
        guard apply else { return dryRun }
        guard try await allowsApply(layout: layout, context) else {
            throw ToolError(
                "sandbox \(name)'s profile does not allow an MCP client to apply changes (mcp.allow_apply is not true); "
                    + "nothing was applied: the user applies them with `cordon sync \(name)`")
        }
        let findings = dryRun.objectValue?["findings"]?.arrayValue ?? []
        let held = dryRun.objectValue?["held"]?.arrayValue ?? []
        let mountsHeld = (dryRun.objectValue?["mounts"]?.arrayValue ?? []).contains {
            !($0.objectValue?["held"]?.arrayValue ?? []).isEmpty || !($0.objectValue?["findings"]?.arrayValue ?? []).isEmpty
        }
        guard findings.isEmpty && held.isEmpty && !mountsHeld else {
            throw ToolError(
                "the sync gate has \(findings.count) finding(s) and holds \(held.count) path(s) of sandbox \(name): nothing was applied; "
                    + "the user reviews them with `cordon sync \(name)`")
        }
        return try await context.document(["sync", name, "--auto", "--json"], progress: progress, acceptFailure: true)
    }

    /// Whether the profile the sandbox was made from sets `mcp.allow_apply: true` (read as
    /// `cordon config compile` reads it, from the source its record names).
    static func allowsApply(layout: SandboxLayout, _ context: MCPContext) async throws(ToolError) -> Bool {
        let profile = try await compiledProfile(layout: layout, context)
        return profile.objectValue?["mcp"]?.objectValue?["allow_apply"]?.boolValue == true
    }

    /// The sandbox's profile, compiled: `cordon config compile SOURCE --json` on the source its
    /// record names (a built-in profile's name, or the profile file's path, written by cordon).
    static func compiledProfile(layout: SandboxLayout, _ context: MCPContext) async throws(ToolError) -> Value {
        let record: SandboxRecord
        do throws(CordonError) { record = try layout.loadRecord() } catch { throw ToolError(MCPContext.message(error)) }
        return try await compiledProfile(record: record, context)
    }

    static func compiledProfile(record: SandboxRecord, _ context: MCPContext) async throws(ToolError) -> Value {
        let source = record.profile.hasPrefix("builtin:") ? String(record.profile.dropFirst("builtin:".count)) : record.profile
        return try await context.document(["config", "compile", source, "--json"])
    }
}
