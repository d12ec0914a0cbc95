import ArgumentParser

/// `cordon mcp`: a stand-in group holding only `bridge` until `cordon mcp` (the MCP server, its
/// own file MCPCommand.swift) lands; then `MCPBridgeCommand.self` joins that command's
/// subcommands and this file goes.
struct MCPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp", abstract: "Model Context Protocol: run an MCP server inside a sandbox.", subcommands: [MCPBridgeCommand.self])
}
