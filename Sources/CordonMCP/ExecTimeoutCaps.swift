import CordonCore
import CordonSandbox
import MCP

/// Each sandbox's cap on `sandbox_exec`'s timeout: its profile's `mcp.max_exec_timeout`, read by
/// compiling the profile its record names the first time `exec` is called after each start (the
/// record's `lastStarted` changes with every start), then kept, so an `exec` costs no compile.
actor ExecTimeoutCaps {
    private struct Key: Hashable {
        let name: String
        let profile: String
        let lastStarted: String?
    }

    private var caps: [Key: Double] = [:]

    func cap(for layout: SandboxLayout, name: String, _ context: MCPContext) async throws(ToolError) -> Double {
        let record: SandboxRecord
        do throws(CordonError) { record = try layout.loadRecord() } catch { throw ToolError(MCPContext.message(error)) }
        let key = Key(name: name, profile: record.profile, lastStarted: record.lastStarted)
        if let cap = caps[key] { return cap }
        let profile = try await ChangeTools.compiledProfile(record: record, context)
        let seconds: Double? =
            switch profile.objectValue?["mcp"]?.objectValue?["max_exec_timeout"] {
            case .double(let value)?: value
            case .int(let value)?: Double(value)
            default: nil
            }
        guard let seconds, seconds.isFinite, seconds >= 1 else {
            throw ToolError("sandbox \(name)'s compiled profile carries no mcp.max_exec_timeout; is this cordon and cordon-mcp the same version?")
        }
        caps = caps.filter { $0.key.name != name }
        caps[key] = seconds
        return seconds
    }
}
