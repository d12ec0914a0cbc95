import CordonCore
public import MCP

/// `cordon mcp`'s server: the tool catalogue, the calls dispatched to the tools, the resources.
/// The MCP layer holds no policy of its own: each tool runs what the CLI runs.
public enum CordonMCPServer {
    public static let instructions = """
        Manage cordon sandboxes: list, start (from a profile the user has), run commands in, diff, \
        check a sync, stop, and read their network and audit logs. No tool widens a sandbox: none \
        approves egress, reads or sets secrets, changes a profile or policy, or forces a sync.
        """

    /// A server with every handler registered (not yet started).
    public static func make(context: MCPContext, version: String) async -> Server {
        let server = Server(
            name: "cordon", version: version, instructions: instructions,
            capabilities: .init(resources: .init(subscribe: false, listChanged: false), tools: .init(listChanged: false)))
        await server.withMethodHandler(ListTools.self) { _ in .init(tools: ToolCatalogue.all) }
        await server.withMethodHandler(CallTool.self) { [weak server] params in await call(params, context: context, server: server) }
        await server.withMethodHandler(ListResources.self) { _ in .init(resources: SandboxResources.list(context)) }
        await server.withMethodHandler(ListResourceTemplates.self) { _ in .init(templates: SandboxResources.templates) }
        await server.withMethodHandler(ReadResource.self) { params in try await SandboxResources.read(params.uri, context) }
        return server
    }

    /// One tool call. A failure is its result (`isError: true`, a readable message), a tool that
    /// does not exist included, so a client shows the model why.
    static func call(_ params: CallTool.Parameters, context: MCPContext, server: Server?) async -> CallTool.Result {
        guard let name = ToolCatalogue.Name(rawValue: params.name) else {
            return .failure(
                ToolError(
                    "no tool named \"\(params.name)\"; cordon mcp's tools are: \(ToolCatalogue.Name.allCases.map(\.rawValue).joined(separator: ", ")). "
                        + "None approves egress, reads or sets secrets, or changes policy."))
        }
        let progress = server.flatMap { server in params._meta?.progressToken.map { MCPContext.Progress(token: $0, server: server, what: params.name) } }
        do throws(ToolError) {
            let arguments = try ToolArguments(tool: name.rawValue, arguments: params.arguments, allowed: ToolCatalogue.allowed(name))
            switch name {
            case .list: return .document(try await SandboxTools.list(arguments, context))
            case .status: return .document(try await SandboxTools.status(arguments, context))
            case .up: return .document(try await SandboxTools.up(arguments, context, progress: progress))
            case .exec: return try await ExecTool.exec(arguments, context, progress: progress)
            case .diff: return .document(try await ChangeTools.diff(arguments, context))
            case .sync: return .document(try await ChangeTools.sync(arguments, context, progress: progress))
            case .down: return .document(try await SandboxTools.down(arguments, context, progress: progress))
            case .networkLog: return .document(try LogTools.networkLog(arguments, context))
            case .auditLog: return .document(try LogTools.auditLog(arguments, context))
            case .usage: return .document(try await LogTools.usage(arguments, context))
            }
        } catch {
            return .failure(error)
        }
    }
}
