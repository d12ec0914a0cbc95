import Yams

extension ProfileLayerParser {
    /// `mcp: {allow_apply: BOOL, max_exec_timeout: DURATION}`: what `cordon mcp` may do to a
    /// sandbox of this profile.
    mutating func parseMCP(_ node: Node) -> ProfileLayer.MCP {
        var result = ProfileLayer.MCP()
        guard let entries = reader.mapping(node, "mcp", keys: ["allow_apply", "max_exec_timeout"]) else { return result }
        for (key, _, value) in entries {
            switch key {
            case "allow_apply": result.allowApply = reader.bool(value, "mcp.allow_apply")
            case "max_exec_timeout":
                guard let seconds = reader.duration(value, "mcp.max_exec_timeout") else { continue }
                let ceiling = Profile.MCP.maxExecTimeoutCeiling
                guard seconds >= 1, seconds <= ceiling else {
                    reader.report(
                        value, "mcp.max_exec_timeout", "\(TimeSpan.format(seconds)) is outside 1s to \(TimeSpan.format(ceiling))",
                        hint: "write a duration from 1s to 24h, such as 10m")
                    continue
                }
                result.maxExecTimeout = seconds
            default: break
            }
        }
        return result
    }
}
