import CordonTestSupport
import Foundation
import Glibc
import Testing

/// `cordon mcp bridge`: a real MCP server (the Python SDK's) run in a real sandbox, driven by the
/// SDK's own host client over stdio and over the bridge's Streamable HTTP. The server has exactly
/// the sandbox's policy: its fetch of the allowed loopback server works, its fetch of an unlisted
/// name is refused and that refusal is in the sandbox's network log.
@Suite(
    .enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"),
    .enabled(if: MCPTestVenv.available, Comment(rawValue: MCPTestVenv.absent)), .timeLimit(.minutes(5)))
struct MCPBridgeTests {
    /// A running sandbox `mcp` under the test profile, the server and client written out.
    static func prepare(_ h: SandboxHarness, port: Int) async throws {
        try h.write("profile.yaml", MCPTestPrograms.profile(port: port), in: h.root)
        try h.write("server.py", MCPTestPrograms.server)
        try h.write("client.py", MCPTestPrograms.client, in: h.root)
        let up = try await h.cordon(["up", "--name", "mcp", "--workspace", h.workspace, "--profile", h.root + "/profile.yaml"])
        #expect(up.status == 0, "\(up.stderr)")
    }

    static func line(_ output: String, _ label: String) -> String {
        output.split(separator: "\n").first { $0.hasPrefix(label + " ") }.map { String($0.dropFirst(label.count + 1)) } ?? "<missing>"
    }

    /// The network log's entries for `host`.
    static func networkLog(_ h: SandboxHarness, host: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: h.state + "/cordon/sandboxes/mcp/network.jsonl", encoding: .utf8)
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["host"] as? String == host }
    }

    func client(_ h: SandboxHarness, _ mode: String, port: Int) async throws -> SandboxHarness.Result {
        try await SandboxHarness.run(
            [MCPTestVenv.python, h.root + "/client.py", mode, SandboxHarness.cordon, "mcp", "\(port)"], environment: h.environment(),
            directory: h.workspace, timeout: 180)
    }

    func expectToolsWork(_ r: SandboxHarness.Result, port: Int) {
        #expect(Self.line(r.stdout, "initialized") == "cordon-test", "\(r.stdout)\n\(r.stderr)")
        #expect(Self.line(r.stdout, "tools") == "echo,fetch")
        #expect(Self.line(r.stdout, "echo") == "hello bridge")
        #expect(Self.line(r.stdout, "allowed") == "ok 200 hello allowed.test:\(port)", "\(r.stdout)")
        #expect(Self.line(r.stdout, "unlisted").hasPrefix("refused 403"), "\(r.stdout)")
    }

    @Test func aHostClientDrivesABridgedServerOverStdioUnderTheSandboxPolicy() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup(downing: ["mcp"]) }
        let server = try await LoopbackServer.start()
        defer { server.stop() }
        try await Self.prepare(h, port: server.port)
        let r = try await client(h, "stdio", port: server.port)
        #expect(r.status == 0, "\(r.stderr)")
        expectToolsWork(r, port: server.port)
        // The server's own stderr came through the bridge.
        #expect(r.stderr.contains("test server starting"), "\(r.stderr)")
        // The refusal is the sandbox's: in its network log, as for any other process in it.
        let refused = try Self.networkLog(h, host: "unlisted.test")
        #expect(refused.contains { $0["decision"] as? String == "deny" }, "\(refused)")
        let allowed = try Self.networkLog(h, host: "allowed.test")
        #expect(allowed.contains { $0["decision"] as? String == "allow" }, "\(allowed)")
        // Down before returning: the deferred clean-up runs on a thread the test process may not wait for.
        _ = try await h.cordon(["down", "mcp"])
    }

    /// The HTTP side: 127.0.0.1 only, a 0600 token file, 401 without the token (or with a wrong
    /// one), and the streamable HTTP client gets the same answers as over stdio.
    @Test func theHTTPBridgeNeedsItsTokenAndRelaysTheSameServer() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup(downing: ["mcp"]) }
        let server = try await LoopbackServer.start()
        defer { server.stop() }
        try await Self.prepare(h, port: server.port)
        let r = try await client(h, "http", port: server.port)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Self.line(r.stdout, "token-mode") == "0o600", "\(r.stdout)\n\(r.stderr)")
        #expect(Self.line(r.stdout, "no-token") == "401", "\(r.stdout)")
        #expect(Self.line(r.stdout, "wrong-token") == "401", "\(r.stdout)")
        #expect(Self.line(r.stdout, "wrong-path") == "404", "\(r.stdout)")
        // DNS rebinding: a web page's name in Host, or its origin, is refused even with the token.
        #expect(Self.line(r.stdout, "rebound-host") == "403", "\(r.stdout)")
        #expect(Self.line(r.stdout, "foreign-origin") == "403", "\(r.stdout)")
        // One JSON-RPC object per POST: anything else is refused before it reaches the server.
        #expect(Self.line(r.stdout, "not-json") == "400", "\(r.stdout)")
        #expect(Self.line(r.stdout, "batch") == "400", "\(r.stdout)")
        #expect(Self.line(r.stdout, "notification") == "202", "\(r.stdout)")
        expectToolsWork(r, port: server.port)
        // SIGTERM ends the bridge (and the server) as it ends `cordon exec`; the token goes with it.
        #expect(Self.line(r.stdout, "bridge-exit") == "143", "\(r.stdout)")
        #expect(Self.line(r.stdout, "token-file-left") == "False", "\(r.stdout)")
        let refused = try Self.networkLog(h, host: "unlisted.test")
        #expect(refused.contains { $0["decision"] as? String == "deny" }, "\(refused)")
        // Down before returning: the deferred clean-up runs on a thread the test process may not wait for.
        _ = try await h.cordon(["down", "mcp"])
    }
}

/// The bridge's life is its server's: its exit status comes back, the client closing stdin ends
/// it. No Python needed: plain shell servers.
@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"), .timeLimit(.minutes(3)))
struct MCPBridgeLifeTests {
    @Test func theBridgeEndsWithItsServerAndRelaysBytesUnchanged() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup(downing: ["life"]) }
        let up = try await h.cordon(["up", "--name", "life", "--workspace", h.workspace])
        #expect(up.status == 0, "\(up.stderr)")
        // A server that answers one line and exits 7: the bridge exits 7 with the answer relayed.
        let seven = try await h.cordon(
            ["mcp", "bridge", "life", "--", "/bin/sh", "-c", "read line; printf '%s|\\r\\033[2J\\n' \"$line\"; exit 7"], stdin: "{\"id\":1}\n")
        #expect(seven.status == 7, "\(seven.stderr)")
        // Bytes as the server wrote them: no pty (no CRLF), no terminal filter on stdout.
        #expect(seven.stdout == "{\"id\":1}|\r\u{1B}[2J\n", "\(Array(seven.stdout.utf8))")
        // The client closing stdin is the server's stdin closing: `cat` ends, its status comes back.
        let cat = try await h.cordon(["mcp", "bridge", "life", "--", "/bin/sh", "-c", "cat; exit 3"], stdin: "a\nb\n")
        #expect(cat.status == 3, "\(cat.stderr)")
        #expect(cat.stdout == "a\nb\n")
        // A server that ignores its stdin's end is ended after the grace (SIGKILL: 137).
        let stubborn = try await h.cordon(["mcp", "bridge", "life", "--", "/bin/sh", "-c", "trap '' TERM; exec sleep 600"], timeout: 60)
        #expect(stubborn.status == 137, "\(stubborn.stderr)")
        #expect(!stubborn.timedOut)
        // A command that cannot run: 127 with the reason, as `cordon exec` says it.
        let missing = try await h.cordon(["mcp", "bridge", "life", "--", "/no/such/server"])
        #expect(missing.status == 127, "\(missing.stderr)")
        // An unknown sandbox is an error before anything starts.
        let unknown = try await h.cordon(["mcp", "bridge", "nosuch", "--", "/bin/true"])
        #expect(unknown.status == 125, "\(unknown.stderr)")
        #expect(unknown.stderr.contains("nosuch"))
        // Down before returning: the deferred clean-up runs on a thread the test process may not wait for.
        _ = try await h.cordon(["down", "life"])
    }

    /// Runs argv (after the stream's name, `stderr` or `stdout`) with that stream on a new pty
    /// (stdin /dev/null, the other a pipe); prints `stdout …` (what the pipe got when stdout is
    /// one), `status …` and `terminal …` (what reached the pty, as Python's repr of the bytes).
    static let onTerminal = #"""
        import os, pty, subprocess, sys
        master, slave = pty.openpty()
        onstdout = sys.argv[1] == "stdout"
        p = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=slave if onstdout else subprocess.PIPE,
                             stderr=subprocess.DEVNULL if onstdout else slave)
        os.close(slave)
        out = b"" if onstdout else p.stdout.read()
        status = p.wait()
        data = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        print("stdout", out.decode().strip())
        print("status", status)
        print("terminal", repr(data))
        """#

    /// A host terminal on stderr never enters the sandbox (the server gets a pipe), and what the
    /// server writes there reaches it through the terminal filter: a clipboard write (OSC 52) is
    /// dropped, the text is shown.
    @Test func aTerminalStderrStaysOutOfTheSandboxAndIsFiltered() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup(downing: ["tty"]) }
        let up = try await h.cordon(["up", "--name", "tty", "--workspace", h.workspace])
        #expect(up.status == 0, "\(up.stderr)")
        try h.write("on_terminal.py", Self.onTerminal, in: h.root)
        let server = #"if [ -t 2 ]; then echo tty; else echo notty; fi; printf '\033]52;c;aGk=\007shown-text\n' >&2"#
        let r = try await SandboxHarness.run(
            ["/usr/bin/python3", h.root + "/on_terminal.py", "stderr", SandboxHarness.cordon, "mcp", "bridge", "tty", "--", "/bin/sh", "-c", server],
            environment: h.environment(), directory: h.workspace)
        #expect(MCPBridgeTests.line(r.stdout, "status") == "0", "\(r.stdout)\n\(r.stderr)")
        #expect(MCPBridgeTests.line(r.stdout, "stdout") == "notty", "\(r.stdout)")
        let terminal = MCPBridgeTests.line(r.stdout, "terminal")
        #expect(terminal.contains("shown-text"), "\(terminal)")
        #expect(!terminal.contains("]52"), "\(terminal)")
        // Down before returning: the deferred clean-up runs on a thread the test process may not wait for.
        _ = try await h.cordon(["down", "tty"])
    }

    /// A hostile server's stdout on a host terminal (someone trying the bridge by hand): what it
    /// writes passes the profile's filter, so a clipboard write and a window title never reach
    /// the terminal; an MCP client's pipe still gets the bytes as they were (above).
    @Test func aTerminalStdoutIsFiltered() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup(downing: ["ttyout"]) }
        let up = try await h.cordon(["up", "--name", "ttyout", "--workspace", h.workspace])
        #expect(up.status == 0, "\(up.stderr)")
        try h.write("on_terminal.py", Self.onTerminal, in: h.root)
        let server = #"printf '\033]52;c;c3RvbGVu\007\033]0;pwned-title\007shown-text\n'; exit 3"#
        let r = try await SandboxHarness.run(
            ["/usr/bin/python3", h.root + "/on_terminal.py", "stdout", SandboxHarness.cordon, "mcp", "bridge", "ttyout", "--", "/bin/sh", "-c", server],
            environment: h.environment(), directory: h.workspace)
        #expect(MCPBridgeTests.line(r.stdout, "status") == "3", "\(r.stdout)\n\(r.stderr)")
        let terminal = MCPBridgeTests.line(r.stdout, "terminal")
        #expect(terminal.contains("shown-text"), "\(terminal)")
        #expect(!terminal.contains("]52") && !terminal.contains("pwned-title"), "\(terminal)")
        _ = try await h.cordon(["down", "ttyout"])
    }

    /// `--profile`: a fresh sandbox for the bridge's life, removed when it ends.
    @Test func aFreshSandboxFromAProfileIsGoneWhenTheBridgeEnds() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("profile.yaml", "name: fresh\n", in: h.root)
        let r = try await h.cordon(
            ["mcp", "bridge", "--profile", h.root + "/profile.yaml", "--workspace", h.workspace, "--name", "brief", "--", "/bin/sh", "-c", "cat; exit 5"],
            stdin: "ping\n")
        #expect(r.status == 5, "\(r.stderr)")
        #expect(r.stdout == "ping\n")
        #expect(!FileManager.default.fileExists(atPath: h.state + "/cordon/sandboxes/brief"), "\(r.stderr)")
        // One that leaves changes is kept, and said.
        let kept = try await h.cordon(
            [
                "mcp", "bridge", "--profile", h.root + "/profile.yaml", "--workspace", h.workspace, "--name", "kept", "--", "/bin/sh", "-c",
                "echo x > /workspace/new",
            ])
        #expect(kept.status == 0, "\(kept.stderr)")
        #expect(kept.stderr.contains("sandbox kept kept"), "\(kept.stderr)")
        #expect(FileManager.default.fileExists(atPath: h.state + "/cordon/sandboxes/kept"))
        // Without NAME or --profile, and with both: refused before anything starts.
        let neither = try await h.cordon(["mcp", "bridge", "--", "/bin/true"])
        #expect(neither.status != 0 && neither.stderr.contains("--profile"), "\(neither.stderr)")
        let both = try await h.cordon(["mcp", "bridge", "x", "--profile", "p", "--", "/bin/true"])
        #expect(both.status != 0 && both.stderr.contains("fresh"), "\(both.stderr)")
    }
}
