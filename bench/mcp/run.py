#!/usr/bin/env python3
"""bench/mcp: what the MCP layers add to a round trip.

mcp      `cordon mcp` (cordon as an MCP server, stdio) kept running, and rounds of
           a `tools/call` of its exec tool (`sandbox_exec`, or `exec`, as `tools/list` says) with
           {"sandbox": NAME, "argv": ["true"]}
                                    (one JSON-RPC line out, its response line back)
           `cordon exec NAME -- true` (a fresh client process each time, as a user runs it)
         one after the other in every round, the order rotating. The MCP figure is the round trip
         seen by the client (the command is started by the sandbox's init both ways); the target
         (issue 26) is that the MCP layer adds <= 5 ms over the direct exec.
bridge   the same tiny MCP server (a JSON-RPC loop in Python answering `tools/call` of `echo`),
           run directly on the host as the client's child
           run in the sandbox through `cordon mcp bridge NAME -- python3 echo.py`
         both kept running, one `tools/call` through each per round, the order rotating: the
         difference is the bridge's own added latency per message (two relay hops, the exec wire
         only at start).
Both clients speak raw JSON-RPC lines (no SDK) so that the figures are the transports'. One
sandbox is brought `up` (built-in default profile, an empty temporary workspace, HOME and the XDG
directories temporary) and is `down` and `rm` at the end. The host's 1-minute load average is
recorded beside the figures; compare within one run.

Usage: bench/mcp/run.py [--cordon PATH] [--runs N] [--warmup N] [--no-mcp] [--no-bridge] [--out FILE]
Writes JSON to bench/results/mcp.json (or --out) and prints it.
"""
import argparse, json, os, platform, shutil, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from common import describe_binary, load1, release_builds, run_waited, stats  # noqa: E402

ECHO_SERVER = r'''
import json, sys
for line in sys.stdin:
    message = json.loads(line)
    if "id" not in message:
        continue
    method = message.get("method")
    if method == "initialize":
        result = {"protocolVersion": message["params"].get("protocolVersion", "2025-06-18"), "capabilities": {"tools": {}},
                  "serverInfo": {"name": "echo", "version": "1"}}
    elif method == "tools/list":
        result = {"tools": [{"name": "echo", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}}]}
    elif method == "tools/call":
        result = {"content": [{"type": "text", "text": message["params"]["arguments"].get("text", "")}]}
    else:
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": message["id"], "error": {"code": -32601, "message": "no such method"}}) + "\n")
        sys.stdout.flush()
        continue
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}) + "\n")
    sys.stdout.flush()
'''


class Session:
    """A stdio MCP session with raw JSON-RPC lines: initialize, then timed requests."""

    def __init__(self, argv, env, cwd):
        self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, bufsize=1)
        self.next_id = 0
        info = self.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                           "clientInfo": {"name": "bench", "version": "1"}})
        if "result" not in info:
            raise RuntimeError(f"{argv[0]}: initialize failed: {info}")
        self.proc.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")

    def request(self, method, params):
        self.next_id += 1
        self.proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}) + "\n")
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the server ended (status {self.proc.wait()}): {self.proc.stderr.read()[-2000:]}")
            message = json.loads(line)
            if message.get("id") == self.next_id and "method" not in message:
                return message

    def timed(self, method, params):
        start = time.perf_counter()
        reply = self.request(method, params)
        return (time.perf_counter() - start) * 1000, reply

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


def rotate(ops, index):
    k = index % len(ops)
    return ops[k:] + ops[:k]


def bench_mcp(cordon, name, args, env, cwd):
    """`cordon mcp`'s exec tool against `cordon exec`, interleaved."""
    try:
        session = Session([cordon, "mcp"], env, cwd)
    except (RuntimeError, OSError, json.JSONDecodeError) as error:
        return {"skipped": f"`cordon mcp` did not answer initialize as an MCP server over stdio (not in this build?): {error}"}
    # The exec tool by the name the server lists (`sandbox_exec`; `exec` in the first brief), with
    # the arguments both name: {"sandbox", "argv"} (checked by the first call).
    listed = {tool.get("name") for tool in session.request("tools/list", {}).get("result", {}).get("tools", [])}
    tool = next((t for t in ("sandbox_exec", "exec") if t in listed), None)
    if tool is None:
        session.close()
        return {"skipped": f"cordon mcp lists no exec tool: {sorted(listed)}"}
    call = {"name": tool, "arguments": {"sandbox": name, "argv": ["true"]}}
    first = session.request("tools/call", call)
    if "result" not in first or first["result"].get("isError"):
        session.close()
        return {"skipped": f"tools/call exec did not succeed: {first}"}
    times = {"mcp_exec": [], "direct_exec": []}
    failures = []

    def mcp_op():
        ms, reply = session.timed("tools/call", call)
        if "result" not in reply or reply["result"].get("isError"):
            failures.append(str(reply)[:300])
        return ms

    def direct_op():
        result, status, stderr = run_waited([cordon, "exec", name, "--", "true"], env, cwd)
        if status != 0:
            failures.append(stderr.decode(errors="replace")[-300:])
        return result["wall_ms"]

    ops = [("mcp_exec", mcp_op), ("direct_exec", direct_op)]
    for index in range(args.warmup + args.runs):
        for label, op in rotate(ops, index):
            ms = op()
            if index >= args.warmup:
                times[label].append(ms)
    session.close()
    out = {label: stats(values) for label, values in times.items()}
    out["added_ms_median"] = round(out["mcp_exec"]["median"] - out["direct_exec"]["median"], 3)
    out["tool"] = tool
    out["failures"] = failures[:10]
    return out


def bench_bridge(cordon, name, args, env, cwd, workspace):
    """The same echo server directly on the host and through `cordon mcp bridge`, interleaved."""
    with open(os.path.join(workspace, "echo.py"), "w") as f:
        f.write(ECHO_SERVER)
    python = "/usr/bin/python3"
    direct = Session([python, os.path.join(workspace, "echo.py")], env, cwd)
    bridged = Session([cordon, "mcp", "bridge", name, "--", python, "/workspace/echo.py"], env, cwd)
    call = {"name": "echo", "arguments": {"text": "x" * 64}}
    times = {"direct": [], "bridged": []}
    sessions = [("direct", direct), ("bridged", bridged)]
    for index in range(args.warmup + args.runs):
        for label, session in rotate(sessions, index):
            ms, reply = session.timed("tools/call", call)
            if "result" not in reply:
                raise RuntimeError(f"{label}: {reply}")
            if index >= args.warmup:
                times[label].append(ms)
    direct.close()
    bridged.close()
    out = {label: stats(values) for label, values in times.items()}
    out["added_ms_median"] = round(out["bridged"]["median"] - out["direct"]["median"], 3)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cordon", help="the cordon binary (default: this checkout's release build)")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--no-mcp", action="store_true")
    parser.add_argument("--no-bridge", action="store_true")
    parser.add_argument("--out")
    args = parser.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    (_, cordon), = release_builds([args.cordon] if args.cordon else None, root)
    scratch = tempfile.mkdtemp(prefix="cordon-bench-mcp-")
    workspace = os.path.join(scratch, "ws")
    os.makedirs(workspace)
    env = {"HOME": os.path.join(scratch, "home"), "XDG_STATE_HOME": os.path.join(scratch, "state"),
           "XDG_CONFIG_HOME": os.path.join(scratch, "config"), "PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8"}
    name = "benchmcp"
    load_before = load1()
    result = {"benchmark": "mcp", "host": platform.node(), "cpus": os.cpu_count(), "binary": describe_binary(cordon),
              "runs": args.runs, "warmup": args.warmup}
    up = subprocess.run([cordon, "up", "--name", name, "--workspace", workspace], env=env, cwd=workspace, capture_output=True, text=True)
    if up.returncode != 0:
        sys.exit(f"cordon up failed: {up.stderr.strip()}")
    try:
        if not args.no_mcp:
            result["mcp"] = bench_mcp(cordon, name, args, env, workspace)
        if not args.no_bridge:
            result["bridge"] = bench_bridge(cordon, name, args, env, workspace, workspace)
    finally:
        subprocess.run([cordon, "down", name], env=env, cwd=workspace, capture_output=True)
        subprocess.run([cordon, "rm", "--discard", name], env=env, cwd=workspace, capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)
    result["load1"] = {"before": load_before, "after": load1()}
    text = json.dumps(result, indent=2)
    out = args.out or os.path.join(root, "bench", "results", "mcp.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
