#!/usr/bin/env python3
"""bench/mitm: cordon's intercepting proxy (zero-token secrets) against mitmproxy, in one run.

An origin standing in for an LLM API (nginx on 127.0.0.1, a certificate for llm.test from its own
test CA, HTTP/1.1 keep-alive, `{"ok":true}` only when `Authorization` is `Bearer <the real key>`,
401 otherwise) is reached three ways, alternating, with the same client:
  - direct:     curl on the host, --resolve llm.test:PORT:127.0.0.1, sending the real key (the
                baseline for "added latency");
  - mitmproxy:  curl on the host through `mitmdump` on 127.0.0.1 (bench/mitm/rewrite_addon.py swaps
                the placeholder in Authorization for the real key, for llm.test only; the client
                trusts mitmproxy's CA, mitmproxy the origin's: ssl_verify_upstream_trusted_ca);
  - cordon:     curl inside one `cordon run` whose profile binds the keystore entry to llm.test
                (`secrets:`), through the proxy HTTPS_PROXY names there, sending the placeholder
                the sandbox got in LLM_API_KEY; the sandbox trusts cordon's CA as set up by cordon,
                cordon the origin's through `egress.upstream_ca`.
The client is bench/proxy/agent.py (on the host in a session of its own, and inside the sandbox,
so sandbox start-up is never measured) running curl: each curl process sends its share of the
requests one after another over ONE connection (a `-K` file of URLs: HTTP/1.1 keep-alive through a
CONNECT tunnel, as an SDK does), `--concurrency` of them at once. Every request must be answered
200, which the origin gives only to the real key: a request whose placeholder was not swapped fails.

Measured per path and concurrency (rounds alternate, the order rotating, round 0 a warm-up):
requests/s (median of the rounds), latency per request p50/p99 (curl's time_total of each
request on the reused connection; added = path - direct), and where the CPU went per request: the
proxy's process (cordon's supervisor, all its threads; mitmdump), the client's (the curls'
rusage), the origin's (nginx, all processes) and the machine's idle time (/proc/stat); the load
(bench/common.load1) before and after. Targets (issue #25): cordon >= 10x mitmproxy's rate, proxy
CPU per request <= 0.1x mitmproxy's, added p50 latency <= 2 ms.

Writes bench/results/mitm-<timestamp>.json and prints a table with PASS/MISS; exits 0 when a target
is missed (it is a measurement), non-zero when the benchmark could not run.
Needs: nginx (apt-get install nginx-light), curl, openssl, mitmproxy (`--mitmdump PATH`, or a venv:
python3 -m venv /tmp/mitmbench-venv && /tmp/mitmbench-venv/bin/pip install mitmproxy), a static
release build of cordon (bench/common.py BUILD_HINT).
Usage: bench/mitm/run.py [--cordon PATH] [--mitmdump PATH] [--requests N] [--rounds R]
                         [--concurrency 1,4] [--perf] [--out FILE] [--keep]
"""
import argparse, atexit, importlib.util, json, os, platform, secrets, shutil, signal, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
ROOT = os.path.dirname(BENCH)
sys.dont_write_bytecode = True  # no __pycache__ next to the sources
sys.path.insert(0, BENCH)
import common  # noqa: E402

# bench/proxy/run.py's agents, process accounting and helpers (a module of its own name: this
# file is run.py too).
_spec = importlib.util.spec_from_file_location("proxybench", os.path.join(BENCH, "proxy", "run.py"))
proxybench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(proxybench)

HOST = "llm.test"
SECRET = "BENCHKEY"
ENV_VAR = "LLM_API_KEY"
CURL = "/usr/bin/curl"
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
PATHS = ["direct", "mitmproxy", "cordon"]
MITMDUMP_DEFAULTS = ["/tmp/mitmbench-venv/bin/mitmdump", os.path.join(BENCH, ".venv", "bin", "mitmdump")]


def fail(message):
    raise SystemExit(f"bench/mitm: {message}")


def openssl(argv):
    r = subprocess.run(["openssl"] + argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if r.returncode != 0:
        fail("openssl " + " ".join(argv[:2]) + ": " + r.stderr.decode(errors="replace")[-500:])


def make_origin_tls(directory):
    """A test CA and a leaf for HOST signed by it (as Tests/CordonSandboxTests/SecretInjectionTests
    makes them): (ca, cert, key) paths."""
    os.makedirs(directory)
    ca, ca_key = os.path.join(directory, "ca.pem"), os.path.join(directory, "ca-key.pem")
    cert, key, req = (os.path.join(directory, n) for n in ("cert.pem", "key.pem", "req.pem"))
    ext = os.path.join(directory, "ext")
    curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl(["req", "-x509"] + curve + ["-days", "2", "-subj", "/CN=bench llm CA", "-keyout", ca_key, "-out", ca])
    openssl(["req"] + curve + ["-subj", "/CN=" + HOST, "-keyout", key, "-out", req])
    with open(ext, "w") as f:
        f.write(f"subjectAltName=DNS:{HOST}\n")
    openssl(["x509", "-req", "-in", req, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-days", "2", "-extfile", ext,
             "-out", cert])
    return ca, cert, key


NGINX_CONF = """\
# bench/mitm origin: a fast stand-in for an LLM API that checks the credential it receives.
daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name {host};
        ssl_certificate {cert};
        ssl_certificate_key {key};
        default_type application/json;
        location / {{
            if ($http_authorization != "Bearer {value}") {{
                return 401 '{{"ok":false}}';
            }}
            return 200 '{{"ok":true}}';
        }}
    }}
}}
"""


def start_nginx(nginx, directory, cert, key, value):
    os.makedirs(directory)
    port = proxybench.free_port()
    conf = os.path.join(directory, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(dir=directory, port=port, host=HOST, cert=cert, key=key, value=value))
    proc = subprocess.Popen([nginx, "-c", conf, "-p", directory], stdin=subprocess.DEVNULL,
                            stdout=open(os.path.join(directory, "stdout.log"), "wb"), stderr=subprocess.STDOUT)
    if not proxybench.wait_port(port, proc, "nginx"):
        path = os.path.join(directory, "error.log")
        fail("nginx did not start:\n" + (open(path, errors="replace").read()[-2000:] if os.path.exists(path) else ""))
    return proc, port


def start_mitmdump(mitmdump, directory, origin_ca, placeholder, value):
    """mitmdump on 127.0.0.1 with the rewrite addon, quiet (no per-flow output, as cordon's proxy
    writes no line per request to a terminal): the process, its port and its CA (client side)."""
    os.makedirs(directory)
    port = proxybench.free_port()
    env = dict(os.environ, MITMBENCH_HOST=HOST, MITMBENCH_PLACEHOLDER=placeholder, MITMBENCH_VALUE=value,
               MITMBENCH_ADDRESS="127.0.0.1")
    argv = [mitmdump, "--listen-host", "127.0.0.1", "--listen-port", str(port), "--set", f"confdir={directory}",
            "--set", f"ssl_verify_upstream_trusted_ca={origin_ca}", "--set", "flow_detail=0",
            "--set", "termlog_verbosity=warn", "-s", os.path.join(HERE, "rewrite_addon.py")]
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                            stdout=open(os.path.join(directory, "mitmdump.log"), "wb"), stderr=subprocess.STDOUT)
    if not proxybench.wait_port(port, proc, "mitmdump", timeout=60):
        fail("mitmdump did not start:\n" + open(os.path.join(directory, "mitmdump.log"), errors="replace").read()[-2000:])
    ca = os.path.join(directory, "mitmproxy-ca-cert.pem")
    if not os.path.exists(ca):
        fail(f"mitmdump made no CA in {directory}")
    return proc, port, ca


PROFILE = """\
name: bench-mitm
network: proxy
egress:
  domains: ["{host}:{port}"]
  allow_private: ["127.0.0.0/8"]
  resolve: {{{host}: 127.0.0.1}}
  upstream_ca: [{origin_ca}]
secrets:
  - name: {secret}
    env: {env_var}
    domains: [{host}]
"""


def cordon_cmd(cordon, env, argv, stdin=None):
    r = subprocess.run([cordon] + argv, env=env, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def supervisor_of_init(candidate):
    """The pid of the `cordon` process that is cordon-init's parent, if it is `candidate` (the
    `cordon run` we started runs the sandbox in the foreground): checked, not assumed."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        if name.startswith("cordon-init"):
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == candidate:
                return parent
    return None


def client_script(flags, auth, urls_file, concurrency):
    """sh: `concurrency` curls at once, each sending the URLs of `urls_file` over one connection,
    one line per request (status, time_total, new connections made); output per curl to a file
    of its own, printed after all are done."""
    curl = " ".join([CURL, "-q", "-sS", "--http1.1"] + [shlex_quote(f) for f in flags] +
                    ["-H", shlex_quote("Authorization: Bearer " + auth), "-K", shlex_quote(urls_file),
                     "-w", shlex_quote("%{http_code} %{time_total} %{num_connects}\\n")])
    return (f'd=$(mktemp -d) || exit 1; i=0; while [ $i -lt {concurrency} ]; do {curl} > "$d/$i" 2>"$d/err$i" & '
            f'i=$((i+1)); done; wait; cat "$d"/[0-9]*; cat "$d"/err* >&2; rm -rf "$d"')


def shlex_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def write_urls(directory, count, port):
    """A curl config of `count` requests to the origin, bodies discarded: urls-COUNT.txt."""
    path = os.path.join(directory, f"urls-{count}.txt")
    with open(path, "w") as f:
        for _ in range(count):
            f.write(f'url = "https://{HOST}:{port}/v1/chat"\noutput = "/dev/null"\n')
    return os.path.basename(path)


def parse_lines(stdout):
    """(latencies in ms of the 200s, status counts, connections made)."""
    latencies, statuses, connects = [], {}, 0
    for line in stdout.splitlines():
        fields = line.split()
        if len(fields) != 3:
            statuses["unparsed"] = statuses.get("unparsed", 0) + 1
            continue
        statuses[fields[0]] = statuses.get(fields[0], 0) + 1
        connects += int(fields[2]) if fields[2].isdigit() else 0
        if fields[0] == "200":
            latencies.append(float(fields[1]) * 1000)
    return latencies, statuses, connects


def version_of(argv):
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        return r.stdout.decode(errors="replace").strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unknown ({e})"


def perf_profile(pid, seconds_cmd, scratch):
    """perf record -g of `pid` while seconds_cmd() runs: the top of `perf report` (self time)."""
    perf = shutil.which("perf")
    if not perf:
        return {"skipped": "perf is not installed"}
    data = os.path.join(scratch, "perf.data")
    rec = subprocess.Popen([perf, "record", "-g", "-F", "999", "-p", str(pid), "-o", data],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    seconds_cmd()
    rec.send_signal(signal.SIGINT)
    try:
        rec.wait(60)
    except subprocess.TimeoutExpired:
        rec.kill()
    out = {}
    for key, extra in (("self", ["--no-children"]), ("dso", ["--no-children", "--sort", "dso"])):
        r = subprocess.run([perf, "report", "-i", data, "--stdio", "-g", "none", "--percent-limit", "0.3"] + extra,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        out[key] = [l.rstrip() for l in r.stdout.decode(errors="replace").splitlines() if l.strip() and not l.startswith("#")][:40]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cordon", default=os.path.join(ROOT, ".build", "release", "cordon"))
    parser.add_argument("--mitmdump", default=None, help="mitmdump to run (default: /tmp/mitmbench-venv or bench/.venv)")
    parser.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    parser.add_argument("--requests", type=int, default=1000, help="requests per path, concurrency and round")
    parser.add_argument("--rounds", type=int, default=4, help="measured rounds (after one warm-up round)")
    parser.add_argument("--concurrency", default="1,4", help="connections at once, comma-separated")
    parser.add_argument("--perf", action="store_true", help="also perf-record cordon's supervisor for one round")
    parser.add_argument("--out", default=None)
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args()

    (_, cordon), = common.release_builds([args.cordon], ROOT)
    mitmdump = args.mitmdump or next((p for p in MITMDUMP_DEFAULTS if os.access(p, os.X_OK)), shutil.which("mitmdump"))
    if not mitmdump or not os.access(mitmdump, os.X_OK):
        fail("mitmdump not found: python3 -m venv /tmp/mitmbench-venv && /tmp/mitmbench-venv/bin/pip install mitmproxy "
             "(or --mitmdump PATH)")
    if not os.access(args.nginx, os.X_OK):
        fail("nginx not found: apt-get install nginx-light (or --nginx PATH)")
    for tool in (CURL, "/usr/bin/python3", "/bin/sh"):
        if not os.access(tool, os.X_OK):
            fail(f"{tool} is needed (the sandbox sees the host's /usr)")
    if not shutil.which("openssl"):
        fail("openssl is needed to make the origin's certificates")
    concurrency = sorted({int(c) for c in args.concurrency.split(",") if c.strip()})
    if not concurrency or concurrency[0] < 1 or args.requests < max(concurrency) or args.rounds < 1:
        fail("--concurrency must list numbers >= 1, --requests at least the largest, --rounds >= 1")
    for var in proxybench.PROXY_VARS:
        os.environ.pop(var, None)

    value = "sk-bench-" + secrets.token_hex(20)
    # A placeholder of cordon's shape for the mitmproxy path (cordon makes its own per start).
    mitm_placeholder = "cordon-ph-" + "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz234567") for _ in range(32))

    scratch = tempfile.mkdtemp(prefix="cordon-bench-mitm-")
    if args.keep:
        print(f"scratch directory: {scratch}", file=sys.stderr)
    else:
        atexit.register(shutil.rmtree, scratch, True)
    os.chmod(scratch, 0o755)  # nginx's workers run as nobody
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))
    procs, sandbox, local = {}, None, None
    env = {"HOME": os.path.join(scratch, "home"), "XDG_STATE_HOME": os.path.join(scratch, "state"),
           "XDG_CONFIG_HOME": os.path.join(scratch, "config"), "PATH": "/usr/bin:/bin"}
    name = f"bench-mitm-{os.getpid()}"
    started_sandbox = False
    try:
        origin_ca, cert, key = make_origin_tls(os.path.join(scratch, "origin-tls"))
        procs["origin"], port = start_nginx(args.nginx, os.path.join(scratch, "nginx"), cert, key, value)
        procs["mitmdump"], mitm_port, mitm_ca = start_mitmdump(mitmdump, os.path.join(scratch, "mitmproxy"), origin_ca,
                                                               mitm_placeholder, value)

        workspace = os.path.join(scratch, "workspace")
        os.makedirs(workspace)
        shutil.copy(os.path.join(BENCH, "proxy", "agent.py"), os.path.join(workspace, "agent.py"))
        urls = {c: write_urls(workspace, args.requests // c, port) for c in concurrency}

        os.makedirs(env["HOME"])
        rc, out, err = cordon_cmd(cordon, env, ["secrets", "set", SECRET, "--stdin"], stdin=value.encode())
        if rc != 0:
            fail(f"cordon secrets set failed ({rc}): {err.strip()}")
        profile = os.path.join(scratch, "profile.yaml")
        with open(profile, "w") as f:
            f.write(PROFILE.format(host=HOST, port=port, origin_ca=origin_ca, secret=SECRET, env_var=ENV_VAR))
        sandbox = proxybench.Sandbox(cordon, profile, name, workspace, env, os.path.join(scratch, "cordon.stderr"))
        started_sandbox = True
        supervisor = sandbox.proc.pid
        local = proxybench.Local(os.path.join(scratch, "host-agent.stderr"))

        # The sandbox's placeholder (never the value: checked).
        r = sandbox.execute({"op": "run", "argv": ["/usr/bin/printenv", ENV_VAR], "timeout": 30})
        placeholder = r.get("stdout", "").strip()
        if r.get("rc") != 0 or not placeholder.startswith("cordon-ph-") or value in placeholder:
            fail(f"the sandbox's {ENV_VAR} is not a placeholder: rc {r.get('rc')}, {r.get('stderr', '')[-300:]}")

        # The host paths' curl trusts the system's CAs plus the one it needs, as the sandbox's curl
        # trusts the system's plus cordon's (one bundle, read once per curl process on every path).
        bundles = {}
        for path, extra in (("direct", origin_ca), ("mitmproxy", mitm_ca)):
            bundles[path] = os.path.join(scratch, f"bundle-{path}.pem")
            with open(bundles[path], "w") as f:
                for part in (SYSTEM_BUNDLE, extra):
                    if os.path.exists(part):
                        f.write(open(part).read().rstrip("\n") + "\n")
        runners = {"direct": local, "mitmproxy": local, "cordon": sandbox}
        proxy_pid = {"direct": None, "mitmproxy": procs["mitmdump"].pid, "cordon": supervisor}
        flags = {"direct": ["--noproxy", "*", "--resolve", f"{HOST}:{port}:127.0.0.1", "--cacert", bundles["direct"]],
                 "mitmproxy": ["--proxy", f"http://127.0.0.1:{mitm_port}", "--cacert", bundles["mitmproxy"]],
                 "cordon": []}  # HTTPS_PROXY and the CA bundle as cordon sets them
        auth = {"direct": value, "mitmproxy": mitm_placeholder, "cordon": placeholder}
        urls_dir = {"direct": workspace, "mitmproxy": workspace, "cordon": "/workspace"}

        def command(path, c):
            return {"op": "run", "timeout": 900,
                    "argv": ["/bin/sh", "-c", client_script(flags[path], auth[path], os.path.join(urls_dir[path], urls[c]), c)]}

        # Every path works, the origin refuses anything but the real key, and the proxy swapped it.
        checks = {}
        for path in PATHS:
            check = client_script(flags[path], auth[path], os.path.join(urls_dir[path], urls[max(concurrency)]), 1)
            r = runners[path].execute({"op": "run", "timeout": 300, "argv": ["/bin/sh", "-c", check]})
            lat, statuses, _ = parse_lines(r.get("stdout", ""))
            checks[path] = statuses
            if statuses != {"200": args.requests // max(concurrency)}:
                fail(f"{path}: not every request was answered 200 (the origin answers 401 to anything but the real key): "
                     f"{statuses}; stderr: {r.get('stderr', '')[-500:]}")
        r = local.execute({"op": "run", "timeout": 30, "argv": [CURL, "-q", "-sS", "-o", "/dev/null", "-w", "%{http_code}"] +
                           flags["direct"] + ["-H", f"Authorization: Bearer {placeholder}", f"https://{HOST}:{port}/v1/chat"]})
        checks["origin_refuses_placeholder"] = r.get("stdout")
        if r.get("stdout") != "401":
            fail(f"the origin did not refuse the placeholder (answered {r.get('stdout')}): it would not show a missed swap")
        checks["cordon_supervisor_is_init_parent"] = supervisor_of_init(supervisor) == supervisor

        # Rounds: every concurrency, every path, the order rotating; round 0 a warm-up.
        load_start = common.load1()
        cells = {(p, c): {"rates": [], "latencies": [], "statuses": {}, "connects": [], "stderr": [],
                          "spent": dict.fromkeys(proxybench.ACCOUNT, 0.0), "ok": 0} for p in PATHS for c in concurrency}
        for rnd in range(args.rounds + 1):
            print(f"round {rnd}{' (warm-up)' if rnd == 0 else ''}…", file=sys.stderr)
            order = PATHS[rnd % len(PATHS):] + PATHS[:rnd % len(PATHS)]
            for c in concurrency:
                for path in order:
                    r, spent = proxybench.spend(runners[path], proxy_pid[path], procs["origin"].pid, command(path, c))
                    lat, statuses, connects = parse_lines(r.get("stdout", ""))
                    if rnd == 0:
                        continue
                    cell = cells[(path, c)]
                    for k, n in statuses.items():
                        cell["statuses"][k] = cell["statuses"].get(k, 0) + n
                    ok = statuses.get("200", 0)
                    cell["ok"] += ok
                    cell["rates"].append(ok / r["seconds"] if r.get("seconds") else 0.0)
                    cell["latencies"] += lat
                    cell["connects"].append(connects)
                    for k in proxybench.ACCOUNT:
                        cell["spent"][k] += spent[k]
                    if r.get("stderr", "").strip():
                        cell["stderr"].append(r["stderr"].strip()[-300:])
        load_end = common.load1()
        profile_out = None
        if args.perf:
            print("perf: recording cordon's supervisor for one round at concurrency 1…", file=sys.stderr)
            profile_out = perf_profile(supervisor, lambda: sandbox.execute(command("cordon", 1)), scratch)
        rss = {"cordon_supervisor": proxybench.status_mb(supervisor), "mitmdump": proxybench.status_mb(procs["mitmdump"].pid)}
    finally:
        for runner in (sandbox, local):
            if runner is not None:
                runner.close()
        for key in ("mitmdump", "origin"):
            proxybench.stop(procs.get(key))
        if started_sandbox:
            cordon_cmd(cordon, env, ["rm", "--discard", name])

    with open(os.path.join(scratch, "cordon.stderr"), errors="replace") as f:
        cordon_stderr = f.read()
    summary_line = next((l for l in reversed(cordon_stderr.splitlines()) if "network:" in l), None)

    def ratio(a, b, digits=3):
        return round(a / b, digits) if a and b else None

    results = {}
    for (path, c), cell in cells.items():
        lat = cell["latencies"]
        entry = {"median_rps": round(statistics.median(cell["rates"]), 1) if cell["rates"] else None,
                 "rounds_rps": [round(x, 1) for x in cell["rates"]],
                 "requests_ok": cell["ok"], "statuses": cell["statuses"],
                 "connections_per_round": cell["connects"], "kept_alive": all(n == c for n in cell["connects"]),
                 "latency_ms": {"p50": round(statistics.median(lat), 3), "p99": round(proxybench.pct(lat, 0.99), 3),
                                "p10": round(proxybench.pct(lat, 0.1), 3), "samples": len(lat)} if lat else None,
                 "client_errors": cell["stderr"][:3],
                 **proxybench.account_figures(cell["spent"], cell["ok"], 1e6, "us_per_request", 1, with_proxy=path != "direct")}
        results.setdefault(f"concurrency_{c}", {})[path] = entry

    def fig(path, c, *keys):
        v = results[f"concurrency_{c}"][path]
        for k in keys:
            v = (v or {}).get(k)
        return v

    targets, ratios = [], {}
    for c in concurrency:
        rate = ratio(fig("cordon", c, "median_rps"), fig("mitmproxy", c, "median_rps"))
        cpu = ratio(fig("cordon", c, "proxy_cpu_us_per_request"), fig("mitmproxy", c, "proxy_cpu_us_per_request"), 4)
        ratios[f"concurrency_{c}"] = {
            "rate_cordon_over_mitmproxy": rate, "proxy_cpu_per_request_cordon_over_mitmproxy": cpu,
            "machine_cpu_per_request_cordon_over_mitmproxy": ratio(fig("cordon", c, "machine_cpu_us_per_request"),
                                                                   fig("mitmproxy", c, "machine_cpu_us_per_request"), 4),
            "rate_cordon_over_direct": ratio(fig("cordon", c, "median_rps"), fig("direct", c, "median_rps")),
            "rate_mitmproxy_over_direct": ratio(fig("mitmproxy", c, "median_rps"), fig("direct", c, "median_rps"))}
        targets.append({"target": f"requests/s cordon / mitmproxy >= 10 (concurrency {c})", "value": rate,
                        "pass": rate is not None and rate >= 10})
        targets.append({"target": f"proxy CPU per request cordon / mitmproxy <= 0.1 (concurrency {c})", "value": cpu,
                        "pass": cpu is not None and cpu <= 0.1})
    c1 = concurrency[0]
    added = {p: round(fig(p, c1, "latency_ms", "p50") - fig("direct", c1, "latency_ms", "p50"), 3)
             if fig(p, c1, "latency_ms") and fig("direct", c1, "latency_ms") else None for p in ("mitmproxy", "cordon")}
    added_p99 = {p: round(fig(p, c1, "latency_ms", "p99") - fig("direct", c1, "latency_ms", "p99"), 3)
                 if fig(p, c1, "latency_ms") and fig("direct", c1, "latency_ms") else None for p in ("mitmproxy", "cordon")}
    targets.append({"target": f"added p50 latency per request, cordon (ms, concurrency {c1}) <= 2", "value": added["cordon"],
                    "pass": added["cordon"] is not None and added["cordon"] <= 2})

    result = {
        "benchmark": "mitm",
        "cordon": {**common.describe_binary(cordon), "version": version_of([cordon, "--version"]),
                   "stderr_summary": summary_line, "supervisor_pid_checked": checks.get("cordon_supervisor_is_init_parent")},
        "mitmproxy": {"path": mitmdump, "version": version_of([mitmdump, "--version"]),
                      "addon": "bench/mitm/rewrite_addon.py", "options": "flow_detail=0, termlog_verbosity=warn"},
        "origin": {"server": version_of([args.nginx, "-v"]), "config": "1 worker, TLS (ECDSA P-256, test CA), keep-alive, "
                   "200 {\"ok\":true} only for Authorization: Bearer <real key>, else 401"},
        "client": version_of([CURL, "--version"]).splitlines()[0],
        "parameters": {"requests": args.requests, "rounds": args.rounds, "warmup_rounds": 1, "concurrency": concurrency},
        "checks": checks,
        "results": results,
        "ratios": ratios,
        "added_latency_ms": {"p50": added, "p99": added_p99, "concurrency": c1},
        "targets": targets,
        "rss_mb_at_end": rss,
        "perf_cordon_supervisor": profile_out,
        "host": {"kernel": platform.release(), "cpus": os.cpu_count(), "uid": os.getuid(),
                 "load1_start": load_start, "load1_end": load_end, "quiet": max(load_start, load_end) < 1.6},
    }
    out = args.out or os.path.join(ROOT, "bench", "results", time.strftime("mitm-%Y%m%d-%H%M%S.json"))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=2)

    def row(label, values, fmt="{:.1f}"):
        cells_ = [fmt.format(v) if v is not None else "-" for v in values]
        print(f"{label:36}" + "".join(f"{x:>12}" for x in cells_))

    print(f"\nbench/mitm: cordon {result['cordon']['swift_runtime']} ({cordon}); {result['mitmproxy']['version'].splitlines()[0]}; "
          f"{os.cpu_count()} CPUs; load {load_start:.2f} → {load_end:.2f}")
    for c in concurrency:
        print(f"concurrency {c} ({args.rounds} × {args.requests} requests per path):")
        row("", PATHS, "{}")
        row("  requests/s (median)", [fig(p, c, "median_rps") for p in PATHS])
        row("  connections made per round (median)", [statistics.median(fig(p, c, "connections_per_round") or [0])
                                                       for p in PATHS], "{:.0f}")
        row("  latency p50 ms", [fig(p, c, "latency_ms", "p50") for p in PATHS], "{:.3f}")
        row("  latency p99 ms", [fig(p, c, "latency_ms", "p99") for p in PATHS], "{:.3f}")
        for key, who in (("proxy_cpu", "proxy CPU"), ("client_cpu", "client CPU"), ("origin_cpu", "origin CPU"),
                         ("machine_cpu", "all three, CPU"), ("machine_idle", "machine idle")):
            row(f"  {who} µs per request", [fig(p, c, f"{key}_us_per_request") for p in PATHS], "{:.0f}")
    reconnected = {f"{p}@{c}": fig(p, c, "connections_per_round") for p in PATHS for c in concurrency
                   if any(n != c for n in fig(p, c, "connections_per_round") or [])}
    if reconnected:
        print(f"connections not kept alive (curl reconnected; one per curl process expected): {json.dumps(reconnected)}")
    bad = {f"{p}@{c}": fig(p, c, "statuses") for p in PATHS for c in concurrency if set(fig(p, c, "statuses") or {}) - {"200"}}
    if bad:
        print(f"requests not answered 200 (see the JSON): {json.dumps(bad)}")
    print(f"added p50 latency (concurrency {c1}): mitmproxy {added['mitmproxy']} ms, cordon {added['cordon']} ms")
    for t in targets:
        print(f"  {'PASS' if t['pass'] else 'MISS'}  {t['target']}: {t['value']}")
    print(f"\n{out}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("bench/mitm: interrupted")
