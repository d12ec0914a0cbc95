import CordonTestSupport
import Foundation
import Glibc
import Testing

/// The Python MCP client from PyPI, in the venv scripts/setup makes.
enum MCPClient {
    /// `$CORDON_TEST_VENV/bin/python`, by default /opt/cordon-test-venv's (scripts/setup makes it).
    static let python = (ProcessInfo.processInfo.environment["CORDON_TEST_VENV"] ?? "/opt/cordon-test-venv") + "/bin/python"

    static let available: Bool = {
        let present = FileManager.default.isExecutableFile(atPath: python)
        if !present {
            FileHandle.standardError.write(
                Data("warning: MCP client tests SKIPPED: \(python) is missing; run scripts/setup (it makes the venv and installs `mcp`)\n".utf8))
        }
        return present
    }()

    /// Runs the client script with `config` (its `mode` picks the scenario); its output has one
    /// `ok NAME` or `FAIL NAME: why` line per check.
    static func run(_ h: SandboxHarness, _ config: [String: Any], timeout: Double = 600) async throws -> ProcessResult {
        let script = h.root + "/mcp_client.py"
        try MCPClient.script.write(toFile: script, atomically: false, encoding: .utf8)
        var config = config
        config["cordon"] = SandboxHarness.cordon
        config["workspace"] = h.workspace
        config["env"] = h.environment()
        let text = String(decoding: try JSONSerialization.data(withJSONObject: config), as: UTF8.self)
        return try await SandboxHarness.run([python, script, text], environment: h.environment(), directory: h.workspace, timeout: timeout)
    }

    static func failures(_ r: ProcessResult) -> [String] {
        r.stdout.split(separator: "\n").filter { $0.hasPrefix("FAIL") }.map(String.init)
    }
}

/// `cordon mcp` driven by the real Python MCP client against real sandboxes, over stdio and
/// Streamable HTTP: every tool, the error paths, progress, the resources, the HTTP token, and
/// each attempt to widen a sandbox (unknown tools, extra arguments, profile paths) refused with
/// nothing run.
@Suite(
    .serialized, .timeLimit(.minutes(10)), .enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"),
    .enabled(if: MCPClient.available, "SKIPPED LOUDLY: /opt/cordon-test-venv (the Python MCP client) is missing: run scripts/setup"))
struct MCPServerTests {
    @Test func stdioEveryToolAndEveryRefusal() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup(downing: ["mcps"]) }
        let r = try await MCPClient.run(h, ["mode": "stdio", "name": "mcps", "full": true])
        #expect(MCPClient.failures(r).isEmpty, "\(MCPClient.failures(r))\n\(r.stderr.suffix(3000))")
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr.suffix(3000))")
        #expect(r.stdout.contains("ok down"), "\(r.stdout)")
    }

    /// `mcp.allow_apply: true` lets the client apply a clean change set; a finding still stops it.
    /// `mcp.max_exec_timeout: 3s` caps exec: a longer timeout is refused, the default is the cap.
    @Test func applyNeedsTheProfilesPermissionAndNoFindings() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup(downing: ["mcpa"]) }
        let profiles = h.root + "/config/cordon/profiles"
        try FileManager.default.createDirectory(atPath: profiles, withIntermediateDirectories: true)
        try "name: apply\nmcp:\n  allow_apply: true\n  max_exec_timeout: 3s\n".write(toFile: profiles + "/apply.yaml", atomically: false, encoding: .utf8)
        let r = try await MCPClient.run(h, ["mode": "apply", "name": "mcpa"])
        #expect(MCPClient.failures(r).isEmpty, "\(MCPClient.failures(r))\n\(r.stderr.suffix(3000))")
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr.suffix(3000))")
        #expect(r.stdout.contains("ok apply refused with findings"), "\(r.stdout)")
    }

    /// `cordon mcp --http 0`: 127.0.0.1 only, a token in a 0600 file, 401 without it (no session,
    /// no tool), and the same scenario as stdio with it.
    @Test func httpNeedsTheTokenAndServesTheTools() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup(downing: ["mcph", "unauth"]) }
        let server = try RunningProcess([SandboxHarness.cordon, "mcp", "--http", "0"], environment: h.environment(), directory: h.workspace)
        defer { server.killInBackground() }
        let url = try await server.readLine(timeout: .seconds(60)).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(url.hasPrefix("http://127.0.0.1:") && url.hasSuffix("/mcp"), "\(url)")
        let tokenFile = h.state + "/cordon/mcp/http-token"
        var info = stat()
        #expect(lstat(tokenFile, &info) == 0 && info.st_mode & 0o777 == 0o600 && info.st_mode & S_IFMT == S_IFREG, "\(String(info.st_mode, radix: 8))")
        let token = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(token.count == 64)
        let r = try await MCPClient.run(h, ["mode": "http", "name": "mcph", "full": false, "url": url, "token": token])
        #expect(MCPClient.failures(r).isEmpty, "\(MCPClient.failures(r))\n\(r.stderr.suffix(3000))")
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr.suffix(3000))")
        #expect(r.stdout.contains("ok unauthorized no token tools/call"), "\(r.stdout)")
        // The unauthorized `sandbox_up` made nothing.
        #expect(!FileManager.default.fileExists(atPath: h.state + "/cordon/sandboxes/unauth"))
    }
}

/// The `cordon mcp` command itself, no sandbox needed: stdout carries JSON-RPC and nothing else
/// (a call asked just before input ends is still answered), and `mcp config` prints snippets.
@Suite(.timeLimit(.minutes(2)))
struct MCPCommandTests {
    @Test func stdoutIsOnlyJSONRPC() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let input =
            [
                #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
                #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
                #"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
                #"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"sandbox_list","arguments":{}}}"#,
                #"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"secrets_set","arguments":{"name":"X","value":"y"}}}"#,
            ].joined(separator: "\n") + "\n"
        let r = try await h.cordon(["mcp"], stdin: input, timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        var ids: [Int] = []
        for line in lines {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
            #expect(object["jsonrpc"] as? String == "2.0", "\(line)")
            if let id = object["id"] as? Int { ids.append(id) }
            if object["id"] as? Int == 4 {
                let result = try #require(object["result"] as? [String: Any])
                #expect(result["isError"] as? Bool == true, "\(line)")
            }
        }
        #expect(ids.sorted() == [1, 2, 3, 4], "\(r.stdout)")
    }

    /// A script that pipes many calls in and closes its end gets every answer, however long
    /// each takes to start (the SDK may not have begun a handler when input ends).
    @Test func everyCallAskedBeforeInputEndsIsAnswered() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        var input = [
            #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
            #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        ]
        for id in 2...13 { input.append(#"{"jsonrpc":"2.0","id":\#(id),"method":"tools/call","params":{"name":"sandbox_list","arguments":{}}}"#) }
        let r = try await h.cordon(["mcp"], stdin: input.joined(separator: "\n") + "\n", timeout: 90)
        #expect(r.status == 0, "\(r.stderr)")
        let ids = r.stdout.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["id"] as? Int
        }
        #expect(ids.sorted() == Array(1...13), "\(r.stdout)")
    }

    @Test(arguments: ["claude-desktop", "cursor", "vscode"])
    func configPrintsASnippet(client: String) async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let r = try await h.cordon(["mcp", "config", "--client", client], timeout: 30)
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout)")
        let servers = try #require((json["mcpServers"] ?? json["servers"]) as? [String: Any])
        let cordon = try #require(servers["cordon"] as? [String: Any])
        #expect(cordon["command"] as? String == SandboxHarness.cordon || (cordon["command"] as? String)?.hasSuffix("/cordon") == true)
        #expect(cordon["args"] as? [String] == ["mcp", "--workspace", h.workspace])
        #expect(!r.stderr.isEmpty)
    }

    @Test func configRefusesAnUnknownClient() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let r = try await h.cordon(["mcp", "config", "--client", "emacs"], timeout: 30)
        #expect(r.status != 0)
        #expect(r.stdout.isEmpty)
    }
}
