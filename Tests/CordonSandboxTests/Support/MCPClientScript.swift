extension MCPClient {
    /// The Python client (PyPI's `mcp`) the tests drive `cordon mcp` with: the scenarios and their checks.
    static let script = #"""
        # The host side of cordon's MCP tests: the real Python MCP client (PyPI's `mcp`) driving
        # `cordon mcp` over stdio or Streamable HTTP. Each check prints `ok NAME` or `FAIL NAME: why`;
        # the exit status is the number of failures (capped).
        import asyncio, json, os, sys, urllib.request, urllib.error
        from mcp import ClientSession, StdioServerParameters, stdio_client

        failures = []

        def check(name, condition, detail=""):
            if condition:
                print("ok " + name, flush=True)
            else:
                failures.append(name)
                print("FAIL " + name + ": " + str(detail)[:2000], flush=True)

        def is_error(r):
            v = getattr(r, "is_error", None)
            return bool(v if v is not None else getattr(r, "isError", False))

        def structured(r):
            v = getattr(r, "structured_content", None)
            return v if v is not None else getattr(r, "structuredContent", None)

        def text(r):
            return "".join(getattr(c, "text", "") for c in r.content)

        async def call(session, name, args):
            return await session.call_tool(name, args)

        async def refused(session, label, name, args):
            r = await call(session, name, args)
            check("refused " + label, is_error(r), text(r))
            return r

        async def scenario(session, cfg):
            ws, name, full = cfg["workspace"], cfg["name"], cfg["full"]
            init = await session.initialize()
            tools = await session.list_tools()
            names = sorted(t.name for t in tools.tools)
            check("tools listed", names == sorted(["sandbox_list", "sandbox_status", "sandbox_up", "sandbox_exec", "sandbox_diff", "sandbox_sync",
                                                   "sandbox_down", "network_log", "audit_log", "usage"]), names)
            for t in tools.tools:
                schema = getattr(t, "input_schema", None) or getattr(t, "inputSchema", None)
                check("schema closed " + t.name, schema.get("additionalProperties") is False, schema)

            # Error paths before anything runs.
            r = await call(session, "sandbox_status", {"sandbox": "nosuch"})
            check("unknown sandbox", is_error(r) and 'no sandbox named "nosuch"' in text(r), text(r))
            r = await call(session, "sandbox_exec", {"sandbox": name, "argv": "ls"})
            check("bad argv type", is_error(r) and "argv" in text(r), text(r))
            r = await call(session, "sandbox_exec", {"sandbox": name, "argv": ["true"], "timeout_seconds": 100000})
            check("timeout over the cap", is_error(r) and "timeout_seconds" in text(r), text(r))
            r = await call(session, "sandbox_status", {})
            check("missing argument", is_error(r) and "sandbox is required" in text(r), text(r))

            # Widening attempts: none runs anything.
            for tool in ["approve_egress", "approvals_allow", "allow", "secrets_set", "secrets_show", "set_policy", "net_allow", "sandbox_run"]:
                await refused(session, "tool " + tool, tool, {"sandbox": name})
            await refused(session, "up with profile_body", "sandbox_up", {"name": "w1", "profile_body": "network: host\n"})
            await refused(session, "up with a profile path", "sandbox_up", {"name": "w2", "profile": "/etc/passwd"})
            await refused(session, "up with a relative profile path", "sandbox_up", {"name": "w3", "profile": "../evil.yaml"})
            await refused(session, "up with a workspace", "sandbox_up", {"name": "w4", "workspace": "/"})
            await refused(session, "up with allow", "sandbox_up", {"name": "w5", "allow": ["*"]})
            await refused(session, "up with network", "sandbox_up", {"name": "w6", "network": "host"})
            r = await call(session, "sandbox_list", {"all": True})
            listed = [s["name"] for s in structured(r)["sandboxes"]]
            check("widening made no sandbox", not any(n.startswith("w") and len(n) == 2 for n in listed), listed)

            # A real sandbox.
            r = await call(session, "sandbox_up", {"name": name, "profile": cfg.get("profile", "default")})
            check("up", not is_error(r) and structured(r) == {"version": 1, "name": name, "state": "running"}, text(r))
            r = await call(session, "sandbox_list", {})
            check("list", not is_error(r) and name in [s["name"] for s in structured(r)["sandboxes"]], text(r))
            r = await call(session, "sandbox_status", {"sandbox": name})
            s = structured(r)
            check("status", not is_error(r) and s["version"] == 1 and s["sandbox"]["state"] == "running" and s["sandbox"]["workspace"] == ws, text(r))

            r = await call(session, "sandbox_exec", {"sandbox": name, "argv": ["/bin/sh", "-c", "echo out; echo err >&2; echo new > /workspace/new.txt; exit 3"]})
            s = structured(r)
            check("exec", not is_error(r) and s["exit_code"] == 3 and s["stdout"] == "out\n" and s["stderr"] == "err\n" and not s["timed_out"], text(r))
            check("exec wrote nothing to the host", not os.path.exists(os.path.join(ws, "new.txt")))

            if full:
                progress = []
                async def on_progress(p, total, message):
                    progress.append(p)
                r = await session.call_tool("sandbox_exec", {"sandbox": name, "argv": ["sleep", "30"], "timeout_seconds": 7}, progress_callback=on_progress)
                s = structured(r)
                check("exec timeout", is_error(r) and s and s["timed_out"] and s["exit_code"] != 0 and s["duration_ms"] < 20000, text(r))
                check("exec progress", len(progress) >= 1, progress)
                r = await call(session, "sandbox_exec", {"sandbox": name, "argv": ["/bin/sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' x"]})
                s = structured(r)
                check("exec output cut", not is_error(r) and len(s["stdout"]) == 1048576 and s["stdout_truncated_bytes"] == 3000000 - 1048576
                      and any("cut" in n for n in s.get("notes", [])), {k: v for k, v in (s or {}).items() if k != "stdout"})

            r = await call(session, "sandbox_diff", {"sandbox": name})
            s = structured(r)
            check("diff", not is_error(r) and s["version"] == 1 and [c["path"] for c in s["changes"]] == ["new.txt"], text(r))
            r = await call(session, "sandbox_sync", {"sandbox": name})
            s = structured(r)
            check("sync is a dry run", not is_error(r) and s["dry_run"] is True and s["applied"] == ["new.txt"], text(r))
            check("dry run applied nothing", not os.path.exists(os.path.join(ws, "new.txt")))
            for label, args in [("force", {"force": True}), ("yes", {"yes": True}), ("partial", {"partial": True}), ("profile", {"profile": "open"})]:
                await refused(session, "sync with " + label, "sandbox_sync", dict({"sandbox": name, "apply": True}, **args))
            check("refused syncs applied nothing", not os.path.exists(os.path.join(ws, "new.txt")))
            if cfg.get("profile", "default") == "default":
                r = await call(session, "sandbox_sync", {"sandbox": name, "apply": True})
                check("apply refused without mcp.allow_apply", is_error(r) and "allow_apply" in text(r), text(r))
                check("refused apply applied nothing", not os.path.exists(os.path.join(ws, "new.txt")))

            r = await call(session, "network_log", {"sandbox": name, "lines": 5})
            check("network log", not is_error(r) and structured(r)["version"] == 1 and isinstance(structured(r)["entries"], list), text(r))
            r = await call(session, "audit_log", {"sandbox": name, "lines": 1000})
            kinds = [x.get("kind") for x in structured(r)["records"]] if not is_error(r) else []
            check("audit log", "start" in kinds and "exec" in kinds, text(r))
            r = await call(session, "usage", {"sandbox": name})
            check("usage", not is_error(r) and structured(r)["version"] == 1 and structured(r)["rows"] == [], text(r))

            if full:
                res = await session.list_resources()
                uris = [str(x.uri) for x in res.resources]
                for kind in ["profile", "audit", "diff"]:
                    check("resource listed " + kind, "cordon://sandbox/%s/%s" % (name, kind) in uris, uris)
                rr = await session.read_resource("cordon://sandbox/%s/profile" % name)
                profile = json.loads(rr.contents[0].text)
                check("resource profile", profile.get("mcp") == {"allow_apply": False, "max_exec_timeout": 600} and "egress" in profile, rr.contents[0].text[:300])
                rr = await session.read_resource("cordon://sandbox/%s/audit" % name)
                check("resource audit", '"kind":"start"' in rr.contents[0].text.replace(" ", ""), rr.contents[0].text[:300])
                rr = await session.read_resource("cordon://sandbox/%s/diff" % name)
                check("resource diff", "new.txt" in rr.contents[0].text, rr.contents[0].text[:300])
                try:
                    await session.read_resource("cordon://sandbox/nosuch/profile")
                    check("resource of an unknown sandbox", False, "read")
                except Exception as e:
                    check("resource of an unknown sandbox", "nosuch" in str(e), e)

            r = await call(session, "sandbox_down", {"sandbox": name})
            check("down", not is_error(r) and structured(r)["state"] == "stopped", text(r))
            r = await call(session, "sandbox_status", {"sandbox": name})
            check("stopped", structured(r)["sandbox"]["state"] == "stopped", text(r))
            r = await call(session, "sandbox_exec", {"sandbox": name, "argv": ["true"]})
            check("exec in a stopped sandbox", is_error(r) and "not running" in text(r), text(r))

        async def apply_scenario(session, cfg):
            ws, name = cfg["workspace"], cfg["name"]
            await session.initialize()
            r = await call(session, "sandbox_up", {"name": name, "profile": "apply"})
            check("up apply", not is_error(r), text(r))
            r = await call(session, "sandbox_exec", {"sandbox": name, "argv": ["/bin/sh", "-c", "echo fine > /workspace/ok.txt"]})
            check("exec apply", not is_error(r) and structured(r)["exit_code"] == 0, text(r))
            r = await call(session, "sandbox_sync", {"sandbox": name, "apply": True})
            s = structured(r)
            check("apply allowed", not is_error(r) and s["dry_run"] is False and s["applied"] == ["ok.txt"], text(r))
            check("applied to the host", open(os.path.join(ws, "ok.txt")).read() == "fine\n")
            token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
            r = await call(session, "sandbox_exec", {"sandbox": name, "argv": ["/bin/sh", "-c", "echo 'token = \"%s\"' > /workspace/leak.txt" % token]})
            r = await call(session, "sandbox_sync", {"sandbox": name, "apply": True})
            check("apply refused with findings", is_error(r) and "finding" in text(r), text(r))
            check("findings applied nothing", not os.path.exists(os.path.join(ws, "leak.txt")))
            # The profile caps exec at 3 s (mcp.max_exec_timeout): a longer timeout is refused
            # with nothing run, and the default timeout is the cap.
            r = await call(session, "sandbox_exec", {"sandbox": name, "argv": ["/bin/sh", "-c", "echo ran > /workspace/capped.txt"], "timeout_seconds": 10})
            check("exec over the profile's cap refused", is_error(r) and "mcp.max_exec_timeout" in text(r) and "3 s" in text(r), text(r))
            r = await call(session, "sandbox_exec", {"sandbox": name, "argv": ["/bin/sh", "-c", "test -e /workspace/capped.txt && echo ran"]})
            check("refused exec ran nothing", not is_error(r) and structured(r)["stdout"] == "", text(r))
            r = await call(session, "sandbox_exec", {"sandbox": name, "argv": ["sleep", "30"]})
            s = structured(r)
            check("default timeout is the profile's cap", is_error(r) and s and s["timed_out"] and s["duration_ms"] < 15000, text(r))
            r = await call(session, "sandbox_down", {"sandbox": name})
            check("down apply", not is_error(r), text(r))

        def post(url, headers, body):
            req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:
                    return resp.status, resp.read().decode()
            except urllib.error.HTTPError as e:
                return e.code, e.read().decode()

        async def main():
            cfg = json.loads(sys.argv[1])
            mode = cfg["mode"]
            if mode in ("stdio", "apply"):
                params = StdioServerParameters(command=cfg["cordon"], args=["mcp", "--workspace", cfg["workspace"]], env=cfg["env"], cwd=cfg["workspace"])
                async with stdio_client(params) as (read, write):
                    async with ClientSession(read, write) as session:
                        await (scenario if mode == "stdio" else apply_scenario)(session, cfg)
            else:
                url = cfg["url"]
                init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                        "clientInfo": {"name": "t", "version": "1"}}}
                base = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
                call_up = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "sandbox_up", "arguments": {"name": "unauth"}}}
                for label, extra in [("no token", {}), ("wrong token", {"Authorization": "Bearer " + "0" * 64}),
                                     ("token as basic", {"Authorization": "Basic " + cfg["token"]}), ("token prefix", {"Authorization": "Bearer " + cfg["token"][:63]})]:
                    for body in (init, call_up):
                        status, answer = post(url, dict(base, **extra), body)
                        check("unauthorized %s %s" % (label, body["method"]), status == 401 and "Mcp-Session-Id" not in answer, (status, answer))
                status, answer = post(url.replace("/mcp", "/other"), dict(base, Authorization="Bearer " + cfg["token"]), init)
                check("other path", status == 404, (status, answer))
                import httpx2
                from mcp.client.streamable_http import streamable_http_client
                async with httpx2.AsyncClient(headers={"Authorization": "Bearer " + cfg["token"]}, timeout=httpx2.Timeout(180)) as client:
                    async with streamable_http_client(url, http_client=client) as streams:
                        read, write = streams[0], streams[1]
                        async with ClientSession(read, write) as session:
                            await scenario(session, cfg)
            sys.exit(min(len(failures), 100))

        asyncio.run(main())
        """#
}
