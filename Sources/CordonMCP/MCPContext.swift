public import CordonCore
import CordonOS
import CordonSandbox
import FoundationEssentials
import MCP

/// What the tools share: the CLI they run, the state and config directories, the workspace
/// `sandbox_up` uses (where `cordon mcp` was started, or its `--workspace`), and a way to say
/// progress to the client.
public struct MCPContext: Sendable {
    public var cli: CordonCLI
    public var paths: CordonPaths
    public var workspace: String
    /// Timeout of a CLI run that is not an `exec` (`up` may pull a large profile's mounts).
    public var commandTimeout: Double = 300
    /// Each sandbox's cap on `sandbox_exec`'s timeout (its profile's `mcp.max_exec_timeout`).
    let execTimeoutCaps = ExecTimeoutCaps()

    public init(cli: CordonCLI, paths: CordonPaths, workspace: String) {
        self.cli = cli
        self.paths = paths
        self.workspace = workspace
    }

    /// The state directory of the sandbox `name`, checked as every command checks it; the CLI's
    /// wording when there is none.
    func existingSandbox(_ name: String) throws(ToolError) -> SandboxLayout {
        do throws(CordonError) {
            try SandboxName.validate(name)
            let layout = SandboxLayout(paths: paths, name: name)
            guard FileIO.kind(layout.directory, followSymlinks: false) == .directory else { throw CordonError.unknownSandbox(name) }
            return layout
        } catch {
            throw ToolError(Self.message(error))
        }
    }

    /// `cordon ARGUMENTS…` whose standard output is one JSON document: that document. A failed
    /// command with no document is a tool error with what it said on stderr.
    func document(_ arguments: [String], progress: Progress? = nil, acceptFailure: Bool = false) async throws(ToolError) -> Value {
        let output = try await run(arguments, progress: progress)
        if output.status != 0 && !acceptFailure || output.stdout.isEmpty {
            throw ToolError(output.errorMessage.isEmpty ? "cordon \(arguments.first ?? "") failed with status \(output.status)" : output.errorMessage)
        }
        do { return try JSONDecoder().decode(Value.self, from: Data(output.stdout)) } catch {
            throw ToolError("cordon \(arguments.first ?? "") printed no JSON document (status \(output.status)): \(output.errorMessage)")
        }
    }

    func run(_ arguments: [String], timeout: Double? = nil, outputLimit: Int = 64 << 20, progress: Progress? = nil) async throws(ToolError) -> CordonCLI.Output
    {
        do throws(CordonError) {
            return try await cli.run(arguments, timeout: timeout ?? commandTimeout, outputLimit: outputLimit, progress: progress?.report)
        } catch {
            throw ToolError(Self.message(error))
        }
    }

    /// A `CordonError` as one line for the client: its message, then what to do.
    static func message(_ error: CordonError) -> String {
        error.message + (error.hint.map { " (fix: \($0))" } ?? "")
    }

    /// Says a long call's progress to the client, when its request asked (`_meta.progressToken`).
    struct Progress: Sendable {
        let token: ProgressToken
        let server: Server
        let what: String

        @Sendable func report(_ seconds: Double) {
            let (server, token, what) = (server, token, what)
            Task {
                try? await server.notify(
                    ProgressNotification.message(.init(progressToken: token, progress: seconds, message: "\(what): \(Int(seconds)) s")))
            }
        }
    }
}

extension CallTool.Result {
    /// A tool's JSON document: as structured content, and as its text for clients that read only text.
    static func document(_ value: Value) -> CallTool.Result {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let text = (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "\(value)"
        return CallTool.Result(content: [.text(text: text, annotations: nil, _meta: nil)], structuredContent: Optional.some(value), isError: false)
    }

    static func failure(_ error: ToolError) -> CallTool.Result {
        CallTool.Result(content: [.text(text: error.message, annotations: nil, _meta: nil)], isError: true)
    }
}
