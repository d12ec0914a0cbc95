import Yams

extension ProfileLayerParser {
    /// `mcp: {allow_apply: BOOL}`: what `cordon mcp` may do to a sandbox of this profile.
    mutating func parseMCP(_ node: Node) -> Bool? {
        guard let entries = reader.mapping(node, "mcp", keys: ["allow_apply"]) else { return nil }
        var allowApply: Bool?
        for (key, _, value) in entries where key == "allow_apply" {
            allowApply = reader.bool(value, "mcp.allow_apply")
        }
        return allowApply
    }
}
