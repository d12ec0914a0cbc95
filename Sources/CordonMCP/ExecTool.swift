import CordonConfig
import CordonCore
import MCP

/// `sandbox_exec`: `cordon exec NAME -- ARGV…` with its output captured. The command runs as any
/// `cordon exec` command does (the sandbox's init starts it, under its namespaces, seccomp,
/// Landlock, cgroup and egress policy); ending the client ends it.
enum ExecTool {
    static func exec(_ arguments: ToolArguments, _ context: MCPContext, progress: MCPContext.Progress?) async throws(ToolError) -> CallTool.Result {
        let name = try arguments.requiredString("sandbox")
        guard let argv = try arguments.strings("argv"), !argv.isEmpty, !argv[0].isEmpty else {
            throw ToolError("sandbox_exec: argv must name a command: [\"ls\", \"-l\"]")
        }
        let requested = try arguments.seconds("timeout_seconds", in: 1...Profile.MCP.maxExecTimeoutCeiling)
        let layout = try context.existingSandbox(name)
        let cap = try await context.execTimeoutCaps.cap(for: layout, name: name, context)
        if let requested, requested > cap {
            throw ToolError(
                "sandbox_exec: timeout_seconds \(Self.seconds(requested)) is above sandbox \(name)'s cap of \(Self.seconds(cap)) s "
                    + "(its profile's mcp.max_exec_timeout); nothing was run: ask for \(Self.seconds(cap)) s or less")
        }
        let timeout = requested ?? min(ToolCatalogue.execDefaultTimeout, cap)
        var command = ["exec"]
        if let workdir = try arguments.string("workdir") {
            guard workdir.hasPrefix("/"), !workdir.contains("\0") else {
                throw ToolError("sandbox_exec: workdir must be an absolute directory inside the sandbox")
            }
            command += ["-w", workdir]
        }
        command += [name, "--"] + argv
        let started = WallClock.monotonic()
        let output = try await context.run(command, timeout: timeout, outputLimit: ToolCatalogue.outputLimit, progress: progress)
        // 125 with cordon's own message: the command was never handed over (not running, unknown).
        if output.status == 125 && output.stderrText.hasPrefix("cordon: ") && !output.timedOut {
            throw ToolError(output.errorMessage)
        }
        var document: [String: Value] = [
            "version": 1, "sandbox": .string(name), "argv": .array(argv.map { .string($0) }), "exit_code": .int(Int(output.status)),
            "stdout": .string(output.stdoutText), "stderr": .string(output.stderrText), "stdout_truncated_bytes": .int(output.stdoutDropped),
            "stderr_truncated_bytes": .int(output.stderrDropped), "timed_out": .bool(output.timedOut),
            "duration_ms": .int(Int((WallClock.monotonic() - started) * 1000)),
        ]
        var notes: [String] = []
        if output.timedOut { notes.append("the command ran past \(Int(timeout)) s and was ended") }
        if output.stdoutDropped > 0 { notes.append("stdout was cut at \(ToolCatalogue.outputLimit) bytes (\(output.stdoutDropped) more dropped)") }
        if output.stderrDropped > 0 { notes.append("stderr was cut at \(ToolCatalogue.outputLimit) bytes (\(output.stderrDropped) more dropped)") }
        if !notes.isEmpty { document["notes"] = .array(notes.map { .string($0) }) }
        var result = CallTool.Result.document(.object(document))
        if output.timedOut {
            result = CallTool.Result(content: result.content, structuredContent: result.structuredContent, isError: true)
        }
        return result
    }

    private static func seconds(_ value: Double) -> String {
        value.rounded() == value ? String(Int(value)) : String(value)
    }
}
