import CordonConfig
import CordonCore
import CordonSandbox
import MCP

/// `sandbox_list`, `sandbox_status`, `sandbox_up`, `sandbox_down`: `cordon ls`, `status`, `up`
/// and `down`, their `--json` documents.
enum SandboxTools {
    static func list(_ arguments: ToolArguments, _ context: MCPContext) async throws(ToolError) -> Value {
        try await context.document(["ls", "--json"] + (try arguments.bool("all") == true ? ["--all"] : []))
    }

    static func status(_ arguments: ToolArguments, _ context: MCPContext) async throws(ToolError) -> Value {
        let name = try arguments.requiredString("sandbox")
        _ = try context.existingSandbox(name)
        return try await context.document(["status", name, "--json"])
    }

    /// `cordon up --json` on the served workspace. The profile is a *name* the user has (a file in
    /// their profiles directory, or a built-in profile): never a path, never text the agent sent.
    /// No other launch option (`--allow`, `--network`, `-e`, `--preset`, `--mode`) is reachable.
    static func up(_ arguments: ToolArguments, _ context: MCPContext, progress: MCPContext.Progress?) async throws(ToolError) -> Value {
        var command = ["up", "--json", "--workspace", context.workspace]
        if let name = try arguments.string("name") {
            do throws(CordonError) { try SandboxName.validate(name) } catch { throw ToolError(MCPContext.message(error)) }
            command += ["--name", name]
        }
        if let profile = try arguments.string("profile") {
            try checkProfileName(profile, paths: context.paths)
            command += ["--profile", profile]
        }
        return try await context.document(command, progress: progress)
    }

    /// A profile reference an agent may give: one of the names `ProfileNames` lists (the user's
    /// profiles directory and the built-in profiles), so never a path or a file in the workspace.
    static func checkProfileName(_ profile: String, paths: CordonPaths) throws(ToolError) {
        let names = ProfileNames.profiles(paths: paths)
        guard names.contains(profile) else {
            throw ToolError(
                "no profile named \"\(profile)\" in \(paths.profilesDirectory) or built in: sandbox_up takes a profile's name, never a path or a profile's text"
                    + " (the names: \(names.joined(separator: ", ")))")
        }
    }

    static func down(_ arguments: ToolArguments, _ context: MCPContext, progress: MCPContext.Progress?) async throws(ToolError) -> Value {
        let name = try arguments.requiredString("sandbox")
        _ = try context.existingSandbox(name)
        let output = try await context.run(["down", name], progress: progress)
        guard output.status == 0 else { throw ToolError(output.errorMessage) }
        return ["version": 1, "sandbox": .string(name), "state": "stopped"]
    }
}
