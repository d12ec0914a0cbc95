#!/usr/bin/env python3
"""bench/proxy/compare.py: cordon builds side by side, paths alternating, one origin for all.

run.py measures every target once; this takes one figure apart. Each `--cordon LABEL=PATH[:INIT]`
starts a sandbox of its own (PATH the `cordon` binary, INIT an optional `cordon-init` for it, passed
as CORDON_INIT), all at once, each idle while another path is measured. Paths, in rounds:
  direct, squid                  curl on the host (as in run.py)
  LABEL, LABEL-transparent       curl inside LABEL's sandbox, CONNECT through 127.0.0.1:3128, or
                                 with no proxy settings (DNS stub, nft redirect)
  LABEL-nsenter                  curl on the host inside LABEL's network namespace (nsenter -n),
                                 through its CONNECT proxy: the sandbox's other layers left out
Modes: `bulk` (one download of --big-mib per path and round: MB/s; CPU seconds per GB of the
client, the origin and the proxy; the machine's idle time) and `small` (--small HTTPS requests, a
connection each, curl --parallel 32: requests/s; CPU µs per request of each party; idle; the
rescheduling and function-call IPIs per request from /proc/interrupts). The first round is a
warm-up. Prints medians and writes bench/results/compare-<timestamp>.json. Needs root (nsenter,
Squid as `proxy`).
Usage: compare.py --cordon A=PATH [--cordon B=PATH:INIT …] [--mode bulk|small] [--rounds N]
                  [--big-mib N] [--small N] [--paths direct,squid,A,…] [--out FILE]
"""
import argparse, json, os, shutil, statistics, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
import run as bench  # noqa: E402  (the helpers: origin, Squid, sandbox agents, CPU accounting)


def ipis():
    """Rescheduling and function-call interrupts, summed over all CPUs."""
    counts = {}
    with open("/proc/interrupts") as f:
        cpus = len(f.readline().split())
        for line in f:
            fields = line.split()
            if fields and fields[0] in ("RES:", "CAL:"):
                counts[fields[0][:3]] = sum(int(x) for x in fields[1:1 + cpus] if x.isdigit())
    return counts


def namespace_member(supervisor):
    """A process inside the supervisor's sandbox (another network namespace), for nsenter."""
    mine = os.readlink("/proc/self/ns/net")
    todo = [supervisor]
    while todo:
        pid = todo.pop()
        try:
            if os.readlink(f"/proc/{pid}/ns/net") != mine:
                return pid
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                todo.extend(int(x) for x in f.read().split())
        except OSError:
            continue
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cordon", action="append", default=[], metavar="LABEL=PATH[:INIT]", required=True)
    parser.add_argument("--mode", choices=["bulk", "small"], default="bulk")
    parser.add_argument("--rounds", type=int, default=6, help="measured rounds (one warm-up round more)")
    parser.add_argument("--big-mib", type=int, default=512)
    parser.add_argument("--small", type=int, default=2000, help="HTTPS requests per path and round (small mode)")
    parser.add_argument("--paths", default=None, help="comma-separated; default: direct, squid and every LABEL")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    builds = {}
    for spec in args.cordon:
        label, _, rest = spec.partition("=")
        binary, _, init = rest.partition(":")
        if not label or not binary or not os.access(binary, os.X_OK):
            bench.fail(f"--cordon {spec}: want LABEL=PATH[:INIT] with an executable PATH")
        if init and not os.access(init, os.X_OK):
            bench.fail(f"--cordon {spec}: {init} is not executable")
        builds[label] = (os.path.abspath(binary), os.path.abspath(init) if init else None)
    paths = args.paths.split(",") if args.paths else ["direct", "squid"] + list(builds)
    for path in paths:
        base = path.removesuffix("-transparent").removesuffix("-nsenter")
        if path not in ("direct", "squid") and base not in builds:
            bench.fail(f"path {path}: no --cordon {base}=…")
    for var in bench.PROXY_VARS:
        os.environ.pop(var, None)

    scratch = tempfile.mkdtemp(prefix="cordon-bench-compare-")
    os.chmod(scratch, 0o755)  # Squid runs as `proxy` and reads its files here
    started, sandboxes, local = [], [], None
    try:
        origin, workspace, cert, tls_port, http_port = bench.start_origin(scratch, args.big_mib)
        started.append(origin)
        squid, squid_port = bench.start_squid(bench.ensure_squid(), os.path.join(scratch, "squid"), tls_port, http_port) \
            if "squid" in paths else (None, None)
        if squid:
            started.append(squid)
        profile = os.path.join(scratch, "profile.yaml")
        with open(profile, "w") as f:
            f.write(bench.PROFILE.format(host=bench.HOST, port=tls_port, http_port=http_port))

        local = bench.Local(os.path.join(scratch, "host-agent.stderr"))
        runner = {"direct": local, "squid": local}
        proxy = {"direct": None, "squid": squid.pid if squid else None}
        flags = {"direct": ["--noproxy", "*", "--resolve", f"{bench.HOST}:{tls_port}:127.0.0.1", "--cacert", cert],
                 "squid": ["--proxy", f"http://127.0.0.1:{squid_port}", "--cacert", cert]}
        prefix = {}
        for label, (binary, init) in builds.items():
            home = os.path.join(scratch, label)
            own = os.path.join(home, "workspace")
            shutil.copytree(workspace, own)
            env = {"HOME": home, "XDG_STATE_HOME": os.path.join(home, "state"), "XDG_CONFIG_HOME": os.path.join(home, "config"),
                   "PATH": "/usr/bin:/bin"}
            if init:
                env["CORDON_INIT"] = init
            sandbox = bench.Sandbox(binary, profile, f"compare-{label.lower()}-{os.getpid()}", own, env, os.path.join(home, "stderr"))
            sandboxes.append(sandbox)
            supervisor = sandbox.proc.pid
            runner[label], runner[f"{label}-transparent"], runner[f"{label}-nsenter"] = sandbox, sandbox, local
            for path in (label, f"{label}-transparent", f"{label}-nsenter"):
                proxy[path] = supervisor
            flags[label] = ["--proxy", "http://127.0.0.1:3128", "--cacert", "/workspace/cert.pem"]
            flags[f"{label}-transparent"] = ["--noproxy", "*", "--cacert", "/workspace/cert.pem"]
            flags[f"{label}-nsenter"] = ["--proxy", "http://127.0.0.1:3128", "--cacert", cert]
            if f"{label}-nsenter" in paths:
                member = namespace_member(supervisor)
                if not member:
                    bench.fail(f"{label}: no process found in the sandbox's network namespace")
                prefix[f"{label}-nsenter"] = ["nsenter", "-t", str(member), "-n"]

        rows = {path: [] for path in paths}
        for round_number in range(args.rounds + 1):
            for path in paths:
                argv = prefix.get(path, []) + [bench.CURL, "-q", "-sS", "--http1.1"] + flags[path]
                if args.mode == "bulk":
                    argv += ["-m", "240", "-o", "/dev/null", "-w", "%{speed_download} %{size_download}",
                             f"https://{bench.HOST}:{tls_port}/big"]
                else:
                    argv += ["-m", "30", "--parallel", "--parallel-immediate", "--parallel-max", "32", "-w", "%{http_code}\\n",
                             f"https://{bench.HOST}:{tls_port}/small?n=[1-{args.small}]"]
                ipi_before = ipis()
                answer, spent = bench.spend(runner[path], proxy[path], origin.pid, {"op": "run", "argv": argv, "timeout": 600})
                ipi_after = ipis()
                if args.mode == "bulk":
                    fields = answer.get("stdout", "").split()
                    if answer.get("rc") != 0 or len(fields) != 2 or int(fields[1]) != args.big_mib << 20:
                        bench.fail(f"{path}: download failed: {answer.get('stderr', answer)}")
                    gb = int(fields[1]) / 1e9
                    row = {"MBps": float(fields[0]) / 1e6, **bench.account_figures(spent, gb, 1, "s_per_GB", 3)}
                else:
                    ok = sum(1 for line in answer.get("stdout", "").splitlines() if line == "200")
                    if ok != args.small:
                        bench.fail(f"{path}: {args.small - ok} of {args.small} requests failed: {answer.get('stderr', '')[-300:]}")
                    row = {"rps": ok / answer["seconds"], **bench.account_figures(spent, ok, 1e6, "us_per_request", 1),
                           **{f"{k}_per_request": (ipi_after[k] - ipi_before[k]) / ok for k in ("RES", "CAL")}}
                if round_number > 0:
                    rows[path].append(row)
                print(f"round {round_number} {path}: " + ", ".join(f"{k} {v:.3g}" for k, v in row.items()), file=sys.stderr)

        medians = {path: {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]} for path, runs in rows.items()}
        keys = list(next(iter(medians.values())))
        widths = [max(len(k), 9) + 2 for k in keys]
        print(f"\n{'median of ' + str(args.rounds) + ' rounds':24}" + "".join(f"{k:>{w}}" for k, w in zip(keys, widths)))
        for path, values in medians.items():
            print(f"{path:24}" + "".join(f"{values[k]:>{w}.3f}" for k, w in zip(keys, widths)))
        out = args.out or os.path.join(bench.ROOT, "bench", "results", f"compare-{time.strftime('%Y%m%d-%H%M%S')}.json")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "w") as f:
            json.dump({"benchmark": "proxy-compare", "mode": args.mode, "builds": builds, "rounds": args.rounds,
                       "big_mib": args.big_mib, "small": args.small, "medians": medians, "runs": rows,
                       "cpus": os.cpu_count()}, f, indent=2)
        print(out)
    finally:
        for sandbox in sandboxes:
            sandbox.close()
        if local:
            local.close()
        for proc in started:
            bench.stop(proc)
        shutil.rmtree(scratch, True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("bench/proxy/compare: interrupted")
