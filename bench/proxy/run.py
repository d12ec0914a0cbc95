#!/usr/bin/env python3
"""bench/proxy: cordon's egress proxy against a direct connection and Squid, in one run.

An origin on 127.0.0.1 (origin.py: HTTPS with a self-signed ECDSA cert for bench.test, and plain
HTTP on a second port; bodies made in memory; one request per connection; no TLS resumption) is
reached four ways, alternating, with the same curl:
  - direct:             curl on the host, --resolve bench.test:PORT:127.0.0.1
  - squid:              curl on the host, --proxy http://127.0.0.1:SQUIDPORT (Debian's squid-openssl,
                        CONNECT allowed only to bench.test:PORT, `ssl_bump peek step1` then `splice`
                        for SNI bench.test, `terminate` otherwise; plain GET only to bench.test:HTTPPORT;
                        no cache; access log on)
  - cordon-connect:     curl inside one `cordon run` with --proxy http://127.0.0.1:3128 (what
                        HTTPS_PROXY/HTTP_PROXY say there): CONNECT for HTTPS, forward for HTTP
  - cordon-transparent: curl inside the same sandbox with --noproxy '*' (DNS stub + nft redirect)
The sandbox runs agent.py, which executes the commands sent to it, so sandbox start-up is never
measured; the host paths run the same agent.py as a host process in a session of its own, as
the sandboxed one is (Linux's autogroup scheduling shares the CPUs between sessions; see Local).

Measured: bulk HTTPS download MB/s (median of --reps) with the same CPU account as below, per GB;
small requests/s, HTTPS and plain HTTP, each
request a new connection (curl --parallel); the proxy's own CPU time per GB and per request (from
/proc: on a small machine the client and origin share the CPUs, so the rates alone understate the
differences), and for small requests the whole account: the client's CPU (the curl's rusage), the
origin's (all its processes) and the machine's idle time, per request; new-connection latency (curl's time_appconnect less time_namelookup, one curl
process per sample; then the same with Python's ssl, phase by phase: DNS, TCP, CONNECT answered,
TLS handshake, GET answered); the proxy's RSS holding --idle idle TLS connections (cordon's
supervisor, and Squid), each then answering one request.
Targets (the issue's): bulk >= 90% of direct; small requests >= Squid's rate; added p50 latency
for a new connection <= 1 ms; proxy RSS under 1,000 idle connections < 64 MB.

Writes bench/results/proxy-<timestamp>.json and prints a table with PASS/MISS. Exits 0 when a
target is missed (it is a measurement); non-zero only when the benchmark could not run.
Needs root for apt-get (squid-openssl) unless Squid with OpenSSL is installed; cordon itself runs
rootless too. Usage: bench/proxy/run.py [--cordon PATH] [--reps N] [--big-mib N] [--small N]
                     [--rounds N] [--parallel N] [--latency N] [--idle N] [--out FILE] [--keep]
"""
import argparse, atexit, json, os, platform, pwd, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ next to the sources

HOST = "bench.test"
CURL = "/usr/bin/curl"
PATHS = ["direct", "squid", "cordon-connect", "cordon-transparent"]
PROXY_VARS = ["http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"]


def fail(message):
    raise SystemExit(f"bench/proxy: {message}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def status_mb(pid):
    """VmRSS / VmHWM / open descriptors of a process (MB = 2^20 bytes)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key = line.split(":")[0]
                if key in ("VmRSS", "VmHWM", "Threads"):
                    value = int(line.split()[1])
                    out[key] = value if key == "Threads" else round(value / 1024, 1)
        out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def cpu_seconds(pid):
    """utime + stime of a process, all its threads (the proxy's cost, whatever limits the rate)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (FileNotFoundError, ProcessLookupError):
        return 0.0


def tree_cpu_seconds(pid):
    """cpu_seconds of a process and all its descendants (the origin's forked workers)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(int(entry))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                pass
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += cpu_seconds(current)
        todo.extend(parents.get(current, []))
    return total


def machine_idle_seconds():
    """Idle + iowait CPU seconds of the whole machine since boot (all CPUs), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    return (int(fields[3]) + int(fields[4])) / os.sysconf("SC_CLK_TCK")


def sample_rss(pid, samples=5, interval=0.2):
    best = {}
    for _ in range(samples):
        s = status_mb(pid)
        if s.get("VmRSS", 0) >= best.get("VmRSS", 0):
            best = s
        time.sleep(interval)
    return best


def ensure_squid():
    """/usr/sbin/squid built with OpenSSL (ssl_bump); installs Debian's squid-openssl if needed."""
    def usable():
        squid = shutil.which("squid") or ("/usr/sbin/squid" if os.path.exists("/usr/sbin/squid") else None)
        if not squid:
            return None
        version = subprocess.run([squid, "-v"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT).stdout.decode()
        return squid if "--with-openssl" in version else None
    squid = usable()
    if squid:
        return squid
    if os.getuid() != 0 or not shutil.which("apt-get"):
        fail("Squid with OpenSSL is needed for the comparison: apt-get install squid-openssl")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    print("installing squid-openssl (apt-get)…", file=sys.stderr)
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    if subprocess.run(["apt-get", "install", "-y", "squid-openssl"], **quiet).returncode != 0:
        subprocess.run(["apt-get", "update"], **quiet)
        subprocess.run(["apt-get", "install", "-y", "squid-openssl"], **quiet)
    squid = usable()
    if not squid:
        fail("could not install squid-openssl with apt-get")
    return squid


def squid_version(squid):
    return subprocess.run([squid, "-v"], stdout=subprocess.PIPE).stdout.decode().splitlines()[0].strip()


def make_cert(directory, name, cn, san=None):
    cert, key = os.path.join(directory, name + ".pem"), os.path.join(directory, name + ".key")
    argv = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + cn]
    if san:
        argv += ["-addext", "subjectAltName=DNS:" + san]
    if subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode != 0:
        fail("openssl could not make a certificate")
    return cert, key


SQUID_CONF = """\
# bench/proxy: Squid as an allowlisting proxy (SNI peek + splice, no decryption, no cache).
http_port 127.0.0.1:{port} ssl-bump tls-cert={bump_cert} tls-key={bump_key} generate-host-certificates=off
visible_hostname bench-squid
pid_filename {dir}/squid.pid
cache_log {dir}/cache.log
access_log stdio:{dir}/access.log
cache_store_log none
coredump_dir {dir}
netdb_filename none
hosts_file {dir}/hosts
cache deny all
cache_mem 0 MB
icp_port 0
htcp_port 0
pinger_enable off
shutdown_lifetime 0 seconds
max_filedescriptors 16384
{user}
acl allowed_port port {origin_port}
acl web_port port {http_port}
acl CONNECT method CONNECT
acl allowed_host dstdomain {host}
acl allowed_sni ssl::server_name {host}
acl step1 at_step SslBump1
http_access deny CONNECT !allowed_port
http_access allow CONNECT allowed_host
http_access allow !CONNECT allowed_host web_port
http_access deny all
ssl_bump peek step1
ssl_bump splice allowed_sni
ssl_bump terminate all
"""

def start_origin(scratch, big_mib, workers=2):
    """origin.py on two free ports (HTTPS, plain HTTP), its certificate for HOST made in `scratch`,
    and a workspace for the sandboxes holding that certificate and agent.py: (process, workspace,
    cert, tls_port, http_port), once it listens."""
    workspace = os.path.join(scratch, "workspace")
    os.makedirs(workspace)
    cert, key = make_cert(scratch, "origin", HOST, HOST)
    shutil.copy(cert, os.path.join(workspace, "cert.pem"))
    shutil.copy(os.path.join(HERE, "agent.py"), os.path.join(workspace, "agent.py"))
    tls_port, http_port = free_port(), free_port()
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "origin.py"), "--cert", cert, "--key", key,
                             "--port", str(tls_port), "--http-port", str(http_port),
                             "--workers", str(workers), "--big-mib", str(big_mib)],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    if not (wait_port(tls_port, proc, "origin") and wait_port(http_port, proc, "origin")):
        fail("the origin did not start")
    return proc, workspace, cert, tls_port, http_port


# Where a measurement's CPU went: the proxy's, the client's (the curl's rusage, as agent.py reports
# it), the origin's (all its processes), and the machine's idle time, in seconds.
ACCOUNT = ("proxy", "client", "origin", "idle")


def spend(runner, proxy_pid, origin_pid, cmd):
    """Runs cmd on the runner: its answer and the account of the time it took (ACCOUNT keys)."""
    proxy_before = cpu_seconds(proxy_pid) if proxy_pid else 0.0
    origin_before, idle_before = tree_cpu_seconds(origin_pid), machine_idle_seconds()
    answer = runner.execute(cmd)
    return answer, {"proxy": cpu_seconds(proxy_pid) - proxy_before if proxy_pid else 0.0, "client": answer.get("cpu", 0.0),
                    "origin": tree_cpu_seconds(origin_pid) - origin_before, "idle": machine_idle_seconds() - idle_before}


def account_figures(spent, units, scale, unit_name, digits, with_proxy=True):
    """The account per unit (GB, request): {who}_cpu_{unit_name} for proxy, client and origin,
    machine_cpu_ (the three together) and machine_idle_; None where there are no units."""
    def per(seconds):
        return round(seconds / units * scale, digits) if units else None
    return {"proxy_cpu_" + unit_name: per(spent["proxy"]) if with_proxy else None,
            "client_cpu_" + unit_name: per(spent["client"]), "origin_cpu_" + unit_name: per(spent["origin"]),
            "machine_cpu_" + unit_name: per(spent["proxy"] + spent["client"] + spent["origin"]),
            "machine_idle_" + unit_name: per(spent["idle"])}


def start_squid(squid, directory, tls_port, http_port):
    """Squid with SQUID_CONF in `directory` (made here), as `proxy` (or `nobody`) when root: the
    process and its port, once it listens."""
    os.makedirs(directory)
    bump_cert, bump_key = make_cert(directory, "bump", "cordon-bench-squid")
    with open(os.path.join(directory, "hosts"), "w") as f:
        f.write(f"127.0.0.1 {HOST}\n")
    port = free_port()
    user = ""
    if os.getuid() == 0:
        account = "proxy"
        try:
            pw = pwd.getpwnam(account)
        except KeyError:
            account, pw = "nobody", pwd.getpwnam("nobody")
        user = f"cache_effective_user {account}"
        for dirpath, _, files in os.walk(directory):
            os.chown(dirpath, pw.pw_uid, pw.pw_gid)
            for fname in files:
                os.chown(os.path.join(dirpath, fname), pw.pw_uid, pw.pw_gid)
    conf = os.path.join(directory, "squid.conf")
    with open(conf, "w") as f:
        f.write(SQUID_CONF.format(port=port, bump_cert=bump_cert, bump_key=bump_key, dir=directory, user=user,
                                  origin_port=tls_port, http_port=http_port, host=HOST))
    proc = subprocess.Popen([squid, "-N", "-f", conf], stdin=subprocess.DEVNULL,
                            stdout=open(os.path.join(directory, "stdout.log"), "wb"), stderr=subprocess.STDOUT)
    if not wait_port(port, proc, "squid"):
        path = os.path.join(directory, "cache.log")
        fail("Squid did not start:\n" + (open(path, errors="replace").read()[-2000:] if os.path.exists(path) else ""))
    return proc, port


PROFILE = """\
name: bench-proxy
egress:
  domains: ["{host}:{port}", "{host}:{http_port}"]
  allow_private: ["127.0.0.0/8"]
  resolve: {{{host}: 127.0.0.1}}
"""


class Agent:
    """agent.py in a process of its own, driven over its stdin/stdout."""
    def __init__(self, argv, stderr_path, what, **popen):
        self.stderr_path = stderr_path
        self.what = what
        self.stderr = open(stderr_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, **popen)
        self._read()

    def _read(self):
        while True:
            line = self.proc.stdout.readline()
            if not line:
                self.stderr.flush()
                with open(self.stderr_path, "rb") as f:
                    tail = f.read().decode(errors="replace")[-2000:]
                fail(f"{self.what} ended early (status {self.proc.poll()}):\n{tail}")
            try:
                return json.loads(line)
            except ValueError:
                continue  # not the agent's

    def execute(self, cmd):
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        self.proc.stdin.flush()
        return self._read()

    def close(self, timeout=20):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b'{"op": "exit"}\n')
                self.proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
        self.stderr.close()


class Local(Agent):
    """The host paths' client: agent.py on the host, in a session of its own. A sandboxed agent
    runs in a session of its own too, and Linux's autogroup scheduling shares the CPUs between
    sessions: a host client in the benchmark's own session (with Squid and the origin) ran ~8%
    faster than the same curl in a session of its own, through the same proxy (measured
    2026-11-24), which is the client's placement, not the proxy's speed."""
    def __init__(self, stderr_path):
        super().__init__([sys.executable, os.path.join(HERE, "agent.py")], stderr_path, "the host agent", start_new_session=True)


class Sandbox(Agent):
    """agent.py inside one `cordon run`."""
    def __init__(self, cordon, profile, name, workspace, env, stderr_path):
        super().__init__([cordon, "run", "--profile", profile, "--name", name, "--workspace", workspace,
                          "--", "/usr/bin/python3", "/workspace/agent.py"], stderr_path, "the sandbox",
                         env=env, cwd=workspace)


def stop(proc, timeout=10):
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def pct(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def summarize(values):
    if not values:
        return None
    return {"p50": round(statistics.median(values), 3), "p10": round(pct(values, 0.1), 3), "p90": round(pct(values, 0.9), 3)}


def main():
    release = os.path.join(ROOT, ".build", "release", "cordon")
    debug = os.path.join(ROOT, ".build", "debug", "cordon")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cordon", default=release if os.access(release, os.X_OK) else debug)
    parser.add_argument("--reps", type=int, default=9, help="bulk downloads per path (median)")
    parser.add_argument("--big-mib", type=int, default=512, help="bulk body size")
    parser.add_argument("--small", type=int, default=2000, help="small requests per round and path")
    parser.add_argument("--rounds", type=int, default=3, help="small-request rounds per path and scheme (median rate)")
    parser.add_argument("--parallel", type=int, default=32, help="concurrent connections for small requests")
    parser.add_argument("--latency", type=int, default=200, help="new-connection latency samples per path")
    parser.add_argument("--idle", type=int, default=1000, help="idle connections held for the RSS figure")
    parser.add_argument("--origin-workers", type=int, default=2)
    parser.add_argument("--out", default=None)
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (configs, logs, sandbox state)")
    args = parser.parse_args()

    cordon = os.path.abspath(args.cordon)
    if not os.access(cordon, os.X_OK):
        fail(f"{cordon} not found; build it: scripts/build-release")
    for tool in (CURL, "/usr/bin/python3"):
        if not os.access(tool, os.X_OK):
            fail(f"{tool} is needed (the sandbox sees the host's /usr)")
    if not shutil.which("openssl"):
        fail("openssl is needed to make the origin's certificate")
    squid = ensure_squid()
    real = os.path.realpath(cordon)
    build = "release" if "/release/" in real else "debug" if "/debug/" in real else "unknown"
    built = os.path.getmtime(real)
    newest_source = max((os.path.getmtime(os.path.join(d, f)) for d, _, fs in os.walk(os.path.join(ROOT, "Sources")) for f in fs),
                        default=0)
    stale = real.startswith(ROOT + os.sep) and newest_source > built
    if stale:
        print(f"warning: {cordon} is older than Sources/ (a stale build measures old code; rebuild or pass --cordon)",
              file=sys.stderr)
    for var in PROXY_VARS:
        os.environ.pop(var, None)

    procs = {}
    sandbox = local = None
    scratch = tempfile.mkdtemp(prefix="cordon-bench-proxy-")
    if args.keep:
        print(f"scratch directory: {scratch}", file=sys.stderr)
    else:
        atexit.register(shutil.rmtree, scratch, True)
    os.chmod(scratch, 0o755)  # Squid runs as `proxy` and reads its files here
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))
    try:
        # Origin.
        procs["origin"], workspace, cert, tls_port, http_port = start_origin(scratch, args.big_mib, args.origin_workers)

        # Squid.
        squid_dir = os.path.join(scratch, "squid")
        procs["squid"], squid_port = start_squid(squid, squid_dir, tls_port, http_port)

        # cordon: one sandbox for the whole run.
        profile = os.path.join(scratch, "profile.yaml")
        with open(profile, "w") as f:
            f.write(PROFILE.format(host=HOST, port=tls_port, http_port=http_port))
        env = {"HOME": os.path.join(scratch, "home"), "XDG_STATE_HOME": os.path.join(scratch, "state"),
               "XDG_CONFIG_HOME": os.path.join(scratch, "config"), "PATH": "/usr/bin:/bin"}
        os.makedirs(env["HOME"])
        name = f"bench-proxy-{os.getpid()}"
        sandbox = Sandbox(cordon, profile, name, workspace, env, os.path.join(scratch, "cordon.stderr"))
        supervisor = sandbox.proc.pid

        local = Local(os.path.join(scratch, "host-agent.stderr"))
        runners = {"direct": local, "squid": local, "cordon-connect": sandbox, "cordon-transparent": sandbox}
        proxy_pid = {"direct": None, "squid": procs["squid"].pid, "cordon-connect": supervisor, "cordon-transparent": supervisor}
        flags = {
            "direct": ["--noproxy", "*", "--resolve", f"{HOST}:{tls_port}:127.0.0.1", "--resolve", f"{HOST}:{http_port}:127.0.0.1",
                       "--cacert", cert],
            "squid": ["--proxy", f"http://127.0.0.1:{squid_port}", "--cacert", cert],
            "cordon-connect": ["--proxy", "http://127.0.0.1:3128", "--cacert", "/workspace/cert.pem"],
            "cordon-transparent": ["--noproxy", "*", "--cacert", "/workspace/cert.pem"],
        }
        urls = {"https": f"https://{HOST}:{tls_port}", "http": f"http://{HOST}:{http_port}"}

        def curl(path, *extra):
            return [CURL, "-q", "-sS", "--no-progress-meter", "--http1.1"] + flags[path] + list(extra)

        def measured(path, cmd):
            """Runs cmd on the path's runner: the answer and the account of its time."""
            return spend(runners[path], proxy_pid[path], procs["origin"].pid, cmd)

        # Every path must work, both schemes, before anything is timed.
        for path in PATHS:
            for scheme, base in urls.items():
                r = runners[path].execute({"op": "run", "argv": curl(path, "-m", "10", f"{base}/small"), "timeout": 30})
                if r.get("rc") != 0 or r.get("stdout") != "ok\n":
                    hint = " (a cordon build without network containment? see the warning above)" \
                        if stale and path.startswith("cordon") else ""
                    fail(f"{path}: GET {base}/small failed (rc {r.get('rc')}): {r.get('stderr', r)}{hint}")
        load_start = os.getloadavg()

        # Idle connections (first, on a fresh supervisor): cordon both ways, then Squid.
        idle = {"cordon_supervisor_before": sample_rss(supervisor, 3), "squid_before": sample_rss(procs["squid"].pid, 3)}
        holds = [("cordon-transparent", {"cafile": "/workspace/cert.pem"}),
                 ("cordon-connect", {"cafile": "/workspace/cert.pem", "proxy": ["127.0.0.1", 3128]}),
                 ("squid", {"cafile": cert, "proxy": ["127.0.0.1", squid_port]})]
        for path, where in holds:
            print(f"idle: {args.idle} connections via {path}…", file=sys.stderr)
            held = runners[path].execute(dict(op="hold", n=args.idle, host=HOST, port=tls_port, **where))
            time.sleep(1)
            rss = sample_rss(proxy_pid[path])
            released = runners[path].execute({"op": "release"})
            time.sleep(0.5)
            idle[path] = {"held": held, "process": rss, "after_release": status_mb(proxy_pid[path]), "answered_after_hold": released}

        # Bulk: alternating, one warm-up round.
        print(f"bulk: {args.reps} × {args.big_mib} MiB per path…", file=sys.stderr)
        expected = args.big_mib << 20
        bulk = {p: {"MBps": [], "errors": [], "bytes": 0, "spent": dict.fromkeys(ACCOUNT, 0.0)} for p in PATHS}
        for rep in range(args.reps + 1):
            for path in PATHS:
                r, spent = measured(path, {"op": "run", "timeout": 300, "argv": curl(
                    path, "-m", "240", "-o", "/dev/null", "-w", "%{speed_download} %{size_download} %{http_code}",
                    f"{urls['https']}/big")})
                fields = r.get("stdout", "").split()
                if r.get("rc") != 0 or len(fields) != 3 or int(fields[1]) != expected or fields[2] != "200":
                    bulk[path]["errors"].append(f"rc {r.get('rc')} {r.get('stdout')} {r.get('stderr', '').strip()}"[:300])
                elif rep > 0:
                    bulk[path]["MBps"].append(float(fields[0]) / 1e6)
                    for k in ACCOUNT:
                        bulk[path]["spent"][k] += spent[k]
                    bulk[path]["bytes"] += expected

        # Small requests: each a new connection (and TLS handshake), --parallel at a time.
        small = {}
        for scheme in ("https", "http"):
            print(f"small: {args.rounds} × {args.small} {scheme} requests per path…", file=sys.stderr)
            small[scheme] = {p: {"rates": [], "ok": 0, "failed": 0, "stderr": [], "spent": dict.fromkeys(ACCOUNT, 0.0)}
                             for p in PATHS}
            for _ in range(args.rounds):
                for path in PATHS:
                    argv = curl(path, "-m", "30", "--parallel", "--parallel-immediate", "--parallel-max", str(args.parallel),
                                "-w", "%{http_code}\\n", f"{urls[scheme]}/small?n=[1-{args.small}]")
                    r, spent = measured(path, {"op": "run", "argv": argv, "timeout": 600})
                    ok = sum(1 for line in r.get("stdout", "").splitlines() if line == "200")
                    entry = small[scheme][path]
                    for k in ACCOUNT:
                        entry["spent"][k] += spent[k]
                    entry["ok"] += ok
                    entry["failed"] += args.small - ok
                    entry["rates"].append(ok / r["seconds"])
                    complaints = [l for l in r.get("stderr", "").splitlines() if l.startswith("curl:")]
                    if complaints:
                        entry["stderr"].append("\n".join(complaints[-5:]))

        # New-connection latency: one curl process per sample, batches alternating between paths.
        print(f"latency: {args.latency} new connections per path…", file=sys.stderr)
        fmt = "%{time_namelookup} %{time_connect} %{time_appconnect} %{time_starttransfer} %{http_code}"
        keys = ["namelookup", "connect", "appconnect", "starttransfer"]
        lat = {p: {k: [] for k in keys + ["appconnect_after_dns", "errors"]} for p in PATHS}
        done = 0
        while done < args.latency:
            n = min(20, args.latency - done)
            for path in PATHS:
                r = runners[path].execute({"op": "repeat", "n": n, "timeout": 30, "argv": curl(
                    path, "-m", "10", "-o", "/dev/null", "-w", fmt, f"{urls['https']}/small")})
                for line in r["lines"]:
                    fields = line.split()
                    if len(fields) != 5 or fields[4] != "200":
                        lat[path]["errors"].append(line[:200])
                        continue
                    for k, value in zip(keys, fields):
                        lat[path][k].append(float(value) * 1000)
                    lat[path]["appconnect_after_dns"].append((float(fields[2]) - float(fields[0])) * 1000)
            done += n
        # The same, phase by phase, with Python's ssl (one context, no process start-up): where the
        # added time goes (CONNECT answer, handshake through the tunnel, first response).
        print(f"latency phases: {args.latency} new connections per path…", file=sys.stderr)
        where = {"direct": {"cafile": cert, "address": "127.0.0.1"},
                 "squid": {"cafile": cert, "proxy": ["127.0.0.1", squid_port]},
                 "cordon-connect": {"cafile": "/workspace/cert.pem", "proxy": ["127.0.0.1", 3128]},
                 "cordon-transparent": {"cafile": "/workspace/cert.pem"}}
        phase_keys = ["dns", "tcp", "connect", "tls", "response", "total"]
        phase = {p: {k: [] for k in phase_keys + ["errors"]} for p in PATHS}
        done = 0
        while done < args.latency:
            n = min(20, args.latency - done)
            for path in PATHS:
                r = runners[path].execute(dict(op="phases", n=n, host=HOST, port=tls_port, **where[path]))
                for sample in r.get("samples", []):
                    for k in phase_keys:
                        phase[path][k].append(sample[k] * 1000)
                phase[path]["errors"] += [k for k, c in r.get("errors", {}).items() for _ in range(c)]
            done += n
        load_end = os.getloadavg()
        final_rss = {"cordon_supervisor": status_mb(supervisor), "squid": status_mb(procs["squid"].pid)}
    finally:
        for runner in (sandbox, local):
            if runner is not None:
                runner.close()
        for key in ("squid", "origin"):
            stop(procs.get(key))

    # The sandbox's own account: the summary line and the network log.
    with open(os.path.join(scratch, "cordon.stderr"), errors="replace") as f:
        cordon_stderr = f.read()
    summary_line = next((l for l in reversed(cordon_stderr.splitlines()) if "network:" in l), None)
    log = subprocess.run([cordon, "net", "log", name, "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    decisions = {}
    for line in log.stdout.decode(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        key = f"{entry.get('decision')}/{entry.get('method')}/{entry.get('rule')}"
        decisions[key] = decisions.get(key, 0) + 1
    with open(os.path.join(squid_dir, "cache.log"), errors="replace") as f:
        squid_errors = [l.strip() for l in f if "ERROR" in l or "WARNING" in l][:10]
    version = subprocess.run([cordon, "--version"], stdout=subprocess.PIPE).stdout.decode().strip()
    curl_version = subprocess.run([CURL, "--version"], stdout=subprocess.PIPE).stdout.decode().splitlines()[0]

    # Figures.
    def ratio(a, b):
        return round(a / b, 3) if a and b else None

    bulk_out = {p: {"median_MBps": round(statistics.median(v["MBps"]), 1) if v["MBps"] else None,
                    "runs_MBps": [round(x, 1) for x in v["MBps"]], "errors": v["errors"],
                    **account_figures(v["spent"], v["bytes"] / 1e9, 1, "s_per_GB", 3, with_proxy=p != "direct")}
                for p, v in bulk.items()}
    small_out = {scheme: {p: {"median_rps": round(statistics.median(v["rates"]), 1),
                              "rounds_rps": [round(x, 1) for x in v["rates"]],
                              "requests_ok": v["ok"], "requests_failed": v["failed"], "curl_errors": v["stderr"][:3],
                              **account_figures(v["spent"], v["ok"], 1e6, "us_per_request", 1, with_proxy=p != "direct")}
                          for p, v in per_path.items()} for scheme, per_path in small.items()}
    lat_out = {}
    for p, v in lat.items():
        entry = {"samples": len(v["appconnect"]), "error_count": len(v["errors"]), "errors": v["errors"][:5]}
        for k in keys + ["appconnect_after_dns"]:
            entry[k + "_ms"] = summarize(v[k])
        lat_out[p] = entry

    phase_out = {p: {"samples": len(v["total"]), "error_count": len(v["errors"]), "errors": sorted(set(v["errors"]))[:5],
                     **{k + "_ms": summarize(v[k]) for k in phase_keys}} for p, v in phase.items()}

    def p50(path, key):
        return (lat_out[path].get(key) or {}).get("p50")

    targets = []
    for p in ("cordon-connect", "cordon-transparent"):
        r = ratio(bulk_out[p]["median_MBps"], bulk_out["direct"]["median_MBps"])
        targets.append({"target": f"bulk HTTPS {p} / direct >= 0.90", "value": r, "pass": r is not None and r >= 0.9})
    for scheme in ("https", "http"):
        for p in ("cordon-connect", "cordon-transparent"):
            r = ratio(small_out[scheme][p]["median_rps"], small_out[scheme]["squid"]["median_rps"])
            targets.append({"target": f"small {scheme} req/s {p} / squid >= 1.00", "value": r, "pass": r is not None and r >= 1.0})
    # Direct connects to an address (--resolve), so the comparison is of the connection itself:
    # time_appconnect less time_namelookup. The transparent path's lookup through cordon's DNS stub
    # is reported beside it (and in the JSON), not hidden.
    for p in ("cordon-connect", "cordon-transparent"):
        mine, base = p50(p, "appconnect_after_dns_ms"), p50("direct", "appconnect_after_dns_ms")
        added = round(mine - base, 3) if mine is not None and base is not None else None
        targets.append({"target": f"added p50 new-connection latency {p} (ms) <= 1.0", "value": added,
                        "pass": added is not None and added <= 1.0})
    for p in ("cordon-connect", "cordon-transparent"):
        held, rss = idle[p]["held"]["opened"], idle[p]["process"].get("VmRSS")
        targets.append({"target": f"supervisor RSS with {held} idle {p} connections (MB) < 64", "value": rss,
                        "pass": rss is not None and rss < 64 and held >= args.idle})

    result = {
        "benchmark": "proxy",
        "cordon": {"path": cordon, "build": build, "version": version,
                   "binary_mtime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(built)), "older_than_sources": stale,
                   "stderr_summary": summary_line, "network_log_decisions": decisions},
        "squid": {"version": squid_version(squid), "cache_log_warnings": squid_errors,
                  "config": "ssl_bump peek step1, splice SNI bench.test, terminate otherwise; CONNECT only to bench.test:PORT; "
                            "GET only to bench.test:HTTPPORT; no cache; access log on"},
        "client": curl_version,
        "origin": {"server": "bench/proxy/origin.py (Python ssl, ECDSA P-256, TLS 1.3, no tickets, Connection: close)",
                   "workers": args.origin_workers},
        "parameters": {"reps": args.reps, "big_mib": args.big_mib, "small_per_round": args.small, "rounds": args.rounds,
                       "parallel": args.parallel, "latency_samples": args.latency, "idle": args.idle},
        "bulk_https": bulk_out,
        "small_requests": small_out,
        "latency_https_new_connection": lat_out,
        "latency_phases_python": phase_out,
        "transparent_dns_lookup_p50_ms": p50("cordon-transparent", "namelookup_ms"),
        "idle": idle,
        "rss_at_end": final_rss,
        "targets": targets,
        "host": {"kernel": platform.release(), "cpus": os.cpu_count(), "uid": os.getuid(),
                 "loadavg_start": [round(x, 2) for x in load_start], "loadavg_end": [round(x, 2) for x in load_end]},
    }
    out = args.out or os.path.join(ROOT, "bench", "results", time.strftime("proxy-%Y%m%d-%H%M%S.json"))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=2)

    def row(label, values, fmt="{:.1f}"):
        cells = [fmt.format(v) if v is not None else "-" for v in values]
        print(f"{label:34}" + "".join(f"{c:>{w}}" for c, w in zip(cells, (10, 10, 16, 16))))

    print(f"\nbench/proxy: cordon {build} build ({cordon}); {squid_version(squid)}; {os.cpu_count()} CPUs; "
          f"load {load_start[0]:.2f} → {load_end[0]:.2f}")
    row("", ["direct", "squid", "cordon CONNECT", "cordon transp."], "{}")
    def account_rows(figures, unit_name, label, fmt):
        for key, who in (("proxy_cpu", "proxy CPU"), ("client_cpu", "client CPU"), ("origin_cpu", "origin CPU"),
                         ("machine_cpu", "all three, CPU"), ("machine_idle", "machine idle")):
            row(f"  {who} {label}", [figures[p][f"{key}_{unit_name}"] for p in PATHS], fmt)

    row("bulk HTTPS MB/s (median)", [bulk_out[p]["median_MBps"] for p in PATHS])
    account_rows(bulk_out, "s_per_GB", "s per GB", "{:.2f}")
    for scheme in ("https", "http"):
        row(f"small {scheme} requests/s (median)", [small_out[scheme][p]["median_rps"] for p in PATHS])
        account_rows(small_out[scheme], "us_per_request", "µs per request", "{:.0f}")
    row("new HTTPS connection p50 ms", [p50(p, "appconnect_ms") for p in PATHS], "{:.2f}")
    row("  DNS lookup p50 ms", [p50(p, "namelookup_ms") for p in PATHS], "{:.2f}")
    row("  after DNS p50 ms", [p50(p, "appconnect_after_dns_ms") for p in PATHS], "{:.2f}")
    row("phases p50 ms (Python ssl): DNS", [(phase_out[p]["dns_ms"] or {}).get("p50") for p in PATHS], "{:.2f}")
    for k, label in (("tcp", "TCP connect"), ("connect", "CONNECT answered"), ("tls", "TLS handshake"),
                     ("response", "GET /small answered"), ("total", "total")):
        row(f"  {label}", [(phase_out[p][k + "_ms"] or {}).get("p50") for p in PATHS], "{:.2f}")
    row(f"RSS MB, {args.idle} idle TLS connections", [None, idle["squid"]["process"].get("VmRSS"),
                                                      idle["cordon-connect"]["process"].get("VmRSS"),
                                                      idle["cordon-transparent"]["process"].get("VmRSS")])
    errors = {"bulk": {p: len(bulk_out[p]["errors"]) for p in PATHS},
              "small": {s: {p: small_out[s][p]["requests_failed"] for p in PATHS} for s in small_out},
              "latency": {p: lat_out[p]["error_count"] + phase_out[p]["error_count"] for p in PATHS},
              "idle": {p: idle[p]["held"]["failed"] + idle[p]["answered_after_hold"]["unanswered"] for p, _ in holds}}
    flat = list(errors["bulk"].values()) + list(errors["latency"].values()) + list(errors["idle"].values()) + \
        [n for s in errors["small"].values() for n in s.values()]
    if any(flat):
        print(f"errors (see the JSON): {json.dumps(errors)}")
    print()
    for t in targets:
        print(f"  {'PASS' if t['pass'] else 'MISS'}  {t['target']}: {t['value']}")
    print(f"  (the transparent path first looks the name up through cordon's DNS stub: p50 "
          f"{p50('cordon-transparent', 'namelookup_ms')} ms, not in the figure above)")
    print(f"\n{out}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("bench/proxy: interrupted")
