import Foundation
import Testing

/// The Python MCP SDK (`mcp` from PyPI) the MCP tests use: a venv `scripts/setup` makes. Tests
/// that need it are disabled, with this reason shown, when it is absent.
enum MCPTestVenv {
    /// scripts/setup's venv (`CORDON_TEST_VENV` moves it); sandboxes mount it at the same path.
    static let directory = ProcessInfo.processInfo.environment["CORDON_TEST_VENV"] ?? "/opt/cordon-test-venv"
    static let python = directory + "/bin/python"

    static let available: Bool = {
        guard FileManager.default.isExecutableFile(atPath: python) else { return false }
        let result = try? SandboxHarness.runBlocking([python, "-c", "import mcp"], environment: nil, timeout: 10)
        return result?.status == 0
    }()

    static let absent = "the Python MCP SDK is not installed at \(directory): run scripts/setup (as root) to make it"
}

/// The programs the MCP bridge tests run.
enum MCPTestPrograms {
    /// An MCP server (the Python SDK's FastMCP, `MCPServer` since mcp 2) with two tools: `echo`
    /// and `fetch(url)`, an HTTP GET through whatever proxy the environment names.
    static let server = #"""
        import sys, urllib.request, urllib.error
        try:
            from mcp.server.mcpserver import MCPServer as Server
        except ImportError:
            from mcp.server.fastmcp import FastMCP as Server
        app = Server("cordon-test")

        @app.tool()
        def echo(text: str) -> str:
            return text

        @app.tool()
        def fetch(url: str) -> str:
            try:
                with urllib.request.urlopen(url, timeout=10) as r:
                    return f"ok {r.status} {r.read().decode(errors='replace')[:200]}"
            except urllib.error.HTTPError as e:
                return f"refused {e.code} {e.headers.get('X-Cordon-Denied', '')}"
            except Exception as e:
                return f"error {type(e).__name__}: {e}"

        print("test server starting", file=sys.stderr, flush=True)
        app.run()
        """#

    /// The host's MCP client. `stdio CORDON SANDBOX PORT`: spawns `cordon mcp bridge` with
    /// stdio_client. `http CORDON SANDBOX PORT`: starts `cordon mcp bridge --http 0`, checks the
    /// token file and that requests without the token get 401, then uses the streamable HTTP
    /// client. Each prints `label value` lines.
    static let client = #"""
        import asyncio, json, os, re, signal, stat, subprocess, sys, urllib.request, urllib.error
        from mcp import ClientSession
        from mcp.client.stdio import StdioServerParameters, stdio_client

        mode, cordon, sandbox, port = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
        # The venv is mounted in the sandbox at its host path: the same interpreter runs the server.
        server = [sys.executable, "/workspace/server.py"]

        def text(result):
            return " ".join(getattr(c, "text", "") for c in result.content)

        async def exercise(read, write):
            async with ClientSession(read, write) as session:
                info = await session.initialize()
                print("initialized", getattr(info, "server_info", None) and info.server_info.name or info.serverInfo.name, flush=True)
                tools = await session.list_tools()
                print("tools", ",".join(sorted(t.name for t in tools.tools)), flush=True)
                print("echo", text(await session.call_tool("echo", {"text": "hello bridge"})), flush=True)
                print("allowed", text(await session.call_tool("fetch", {"url": f"http://allowed.test:{port}/mcp-allowed"})), flush=True)
                print("unlisted", text(await session.call_tool("fetch", {"url": "http://unlisted.test/mcp-unlisted"})), flush=True)

        async def over_stdio():
            params = StdioServerParameters(command=cordon, args=["mcp", "bridge", sandbox, "--"] + server, env=dict(os.environ))
            async with stdio_client(params) as streams:
                await exercise(streams[0], streams[1])

        def status_of(url, headers, body=None):
            body = body if body is not None else json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}).encode()
            request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", **headers}, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=10) as r:
                    return r.status
            except urllib.error.HTTPError as e:
                return e.code

        async def over_http():
            bridge = subprocess.Popen([cordon, "mcp", "bridge", sandbox, "--http", "0", "--"] + server,
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            url = token_path = None
            while url is None or token_path is None:
                line = bridge.stderr.readline()
                if not line:
                    print("bridge-ended-early", bridge.wait(), flush=True)
                    return
                m = re.search(r"at (http://127\.0\.0\.1:\d+/mcp)", line)
                url = m.group(1) if m else url
                m = re.search(r"token is in (\S+)", line)
                token_path = m.group(1) if m else token_path
            mode_bits = stat.S_IMODE(os.stat(token_path).st_mode)
            print("token-mode", oct(mode_bits), flush=True)
            token = open(token_path).read().strip()
            print("no-token", status_of(url, {}), flush=True)
            print("wrong-token", status_of(url, {"Authorization": "Bearer " + "0" * len(token)}), flush=True)
            auth = {"Authorization": "Bearer " + token}
            print("wrong-path", status_of(url.replace("/mcp", "/other"), auth), flush=True)
            port = url.split(":")[2].split("/")[0]
            print("rebound-host", status_of(url, {**auth, "Host": "attacker.example:" + port}), flush=True)
            print("foreign-origin", status_of(url, {**auth, "Origin": "http://attacker.example"}), flush=True)
            print("not-json", status_of(url, auth, b"hello"), flush=True)
            print("batch", status_of(url, auth, b'[{"jsonrpc": "2.0", "id": 9, "method": "ping"}]'), flush=True)
            print("notification", status_of(url, auth, b'{"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 99}}'), flush=True)
            try:
                from mcp.client.streamable_http import streamable_http_client
                from mcp.shared._httpx_utils import create_mcp_http_client
                client = streamable_http_client(url, http_client=create_mcp_http_client(headers={"Authorization": "Bearer " + token}))
            except ImportError:
                from mcp.client.streamable_http import streamablehttp_client
                client = streamablehttp_client(url, headers={"Authorization": "Bearer " + token})
            async with client as streams:
                await exercise(streams[0], streams[1])
            bridge.send_signal(signal.SIGTERM)
            print("bridge-exit", bridge.wait(timeout=30), flush=True)
            print("token-file-left", os.path.exists(token_path), flush=True)

        asyncio.run(over_stdio() if mode == "stdio" else over_http())
        """#

    /// A profile allowing the loopback test server as allowed.test:PORT only, the venv mounted.
    static func profile(port: Int) -> String {
        """
        name: mcptest
        egress:
          domains: ["allowed.test:\(port)"]
          allow_private: ["127.0.0.0/8"]
          resolve: {allowed.test: 127.0.0.1}
        mounts:
          - {host: \(MCPTestVenv.directory), sandbox: \(MCPTestVenv.directory), mode: ro}
        """
    }
}
