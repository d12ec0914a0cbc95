#!/usr/bin/env python3
"""bench/lifecycle: joining a running sandbox (`cordon exec`) against bubblewrap, and how many idle
sandboxes (`cordon up`) the host holds and at what memory each.

exec     one sandbox brought `up` per build (built-in default profile, an empty temporary
         workspace), then rounds of
           `cordon exec NAME -- true`   the command run by the sandbox's init, inside every guard
           `bwrap --unshare-all --die-with-parent --ro-bind / / --proc /proc --dev /dev true`
                                        (bench/startup's peer)
         one after the other in every round, the order rotating from round to round. Each op
         records its wall time (fork to reap, from Python), the CPU time of the client and what it
         waited for (user + system, wait4) and, for exec, the CPU the sandbox's side spent on it:
         the supervisor's and init's (the sum of their threads' /proc/PID/task/TID/schedstat run
         time, ns; init forks the command) and the command's own (init reaps it: the growth of
         init's cutime + cstime over all rounds, in clock ticks, as a mean per op).
         bwrap's wait4 covers all of its processes. The sandbox is `down` and `rm` at the end.
density  for each N of --density (default 10,50,100): N sandboxes brought `up` (--parallel P at a
         time, default 1: one after the other), each in an empty workspace of its own; the time
         until every `up` returned (it returns once its sandbox serves) and `cordon ls --json` says
         all N are running; then, per sandbox, the host processes it has (its supervisor and what
         runs under it: init; the proxy is threads of the supervisor, started on first use of the
         network) with their RSS and PSS (/proc/PID/smaps_rollup) and thread counts, the memory
         its cgroup is charged, and the host's MemAvailable drop divided by N (kernel memory:
         namespaces, veth, mounts, page tables, included). Then all are `down` and `rm` (also on
         a failure or Ctrl-C), timed.
The host's 1-minute load average is recorded beside every figure. Timings depend on the load:
compare ratios within one run; the targets (exec <= 1.5x bwrap, 100 idle sandboxes at < 15 MB of
supervisor and proxy RSS each) are for a quiet host (load < 1.6).

Usage: bench/lifecycle/run.py [--cordon [LABEL=]PATH ...] [--runs N] [--warmup N]
                              [--density 10,50,100] [--parallel P] [--no-exec] [--no-density] [--out FILE]
More than one --cordon compares builds: every build's exec joins each round, and density runs
each build in turn. Writes JSON to bench/results/lifecycle.json (or --out) and prints it.
"""
import argparse, json, os, platform, resource, shutil, signal, statistics, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from common import describe_binary, load1, release_builds, require_bwrap, run_waited, stats  # noqa: E402
from concurrent.futures import ThreadPoolExecutor

QUIET_LOAD = 1.6



def meminfo():
    with open("/proc/meminfo") as f:
        return {line.split(":")[0]: int(line.split()[1]) for line in f if len(line.split()) >= 2}


def mem_available_kb():
    return meminfo().get("MemAvailable")


KERNEL_FIELDS = ("Slab", "KernelStack", "PageTables", "Shmem")


def cordon(path, args, env, cwd, check=True):
    proc = subprocess.run([path] + args, env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"cordon {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


# --- the host side of a sandbox ---------------------------------------------------------------

def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def children(pid):
    kids = []
    for tid in os.listdir(f"/proc/{pid}/task") if os.path.isdir(f"/proc/{pid}/task") else []:
        text = read(f"/proc/{pid}/task/{tid}/children")
        if text:
            kids += [int(k) for k in text.split()]
    return kids


def process_tree(pid):
    """pid and every descendant, as (pid, depth)."""
    out, stack = [], [(pid, 0)]
    while stack:
        p, depth = stack.pop()
        out.append((p, depth))
        stack += [(k, depth + 1) for k in children(p)]
    return out


def process_memory(pid):
    """RSS, PSS (kB, smaps_rollup), threads, command name of one process."""
    status = read(f"/proc/{pid}/status") or ""
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    rollup = read(f"/proc/{pid}/smaps_rollup") or ""
    roll = {}
    for line in rollup.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            roll[parts[0].rstrip(":")] = int(parts[1])
    cmdline = (read(f"/proc/{pid}/cmdline") or "").split("\0")
    return {"pid": pid, "name": fields.get("Name", "").strip(), "argv": [a for a in cmdline if a][:3],
            "rss_kb": roll.get("Rss", int(fields.get("VmRSS", "0 kB").split()[0]) if "VmRSS" in fields else None),
            "pss_kb": roll.get("Pss"), "pss_anon_kb": roll.get("Pss_Anon"), "pss_file_kb": roll.get("Pss_File"),
            "anonymous_kb": roll.get("Anonymous"), "threads": int(fields.get("Threads", "0").strip() or 0)}


def task_cpu_ns(pid):
    """Run time of every live thread of pid (schedstat, ns). A thread that ends between two
    readings takes its time with it: the supervisor's threads are long-lived (exec service, disk
    watch, audit watcher), and a thread made for one op would be missed, so the totals are a floor."""
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            text = read(f"/proc/{pid}/task/{tid}/schedstat")
            if text:
                total += int(text.split()[0])
    except OSError:
        return None
    return total


def status_of(path, name, env, cwd):
    proc = cordon(path, ["status", name, "--json"], env, cwd)
    return json.loads(proc.stdout)["sandbox"]


def reaped_cpu_ms(pid):
    """CPU of the children pid reaped (cutime + cstime of /proc/PID/stat), ms; clock-tick resolution."""
    text = read(f"/proc/{pid}/stat")
    if not text:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) * 1000 / os.sysconf("SC_CLK_TCK")


def memory_path(cgroups):
    for group in cgroups:
        for candidate in (group, "/sys/fs/cgroup/memory" + group):
            for name in ("memory.usage_in_bytes", "memory.current"):
                if os.path.exists(os.path.join(candidate, name)):
                    return os.path.join(candidate, name)
    return None


class Sandboxes:
    """Every sandbox this run brought up, to take down and remove whatever happens."""

    def __init__(self, env):
        self.env = env
        self.up = []  # (path, name, cwd)

    def add(self, path, name, cwd):
        self.up.append((path, name, cwd))

    def teardown(self, entries=None, parallel=1):
        entries = list(self.up) if entries is None else entries
        timings = {"down_ms": [], "rm_ms": [], "failures": []}

        def one(entry):
            path, name, cwd = entry
            t0 = time.perf_counter()
            down = cordon(path, ["down", name], self.env, cwd, check=False)
            t1 = time.perf_counter()
            rm = cordon(path, ["rm", "--discard", name], self.env, cwd, check=False)
            t2 = time.perf_counter()
            problems = []
            if down.returncode != 0 and "not running" not in down.stderr:
                problems.append(f"down {name}: {down.stderr.strip()}")
            if rm.returncode != 0:
                problems.append(f"rm {name}: {rm.stderr.strip()}")
            return (t1 - t0) * 1000, (t2 - t1) * 1000, problems

        with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
            for (down_ms, rm_ms, problems), entry in zip(pool.map(one, entries), entries):
                timings["down_ms"].append(down_ms)
                timings["rm_ms"].append(rm_ms)
                timings["failures"] += problems
                if entry in self.up:
                    self.up.remove(entry)
        return {"down_ms": stats(timings["down_ms"]), "rm_ms": stats(timings["rm_ms"]), "failures": timings["failures"]}


# --- exec ---------------------------------------------------------------------------------------

def bench_exec(builds, bwrap, args, env, scratch, sandboxes):
    names = {}
    for index, (label, path) in enumerate(builds):
        workspace = os.path.join(scratch, f"exec-ws{index}")
        os.makedirs(workspace)
        name = f"lbexec{index}"
        proc = cordon(path, ["up", "--name", name], env, workspace)
        sandboxes.add(path, name, workspace)
        status = status_of(path, name, env, workspace)
        supervisor = status.get("supervisor_pid")
        init = children(supervisor)
        names[label] = {"path": path, "name": name, "workspace": workspace, "supervisor": supervisor,
                        "init": init[0] if len(init) == 1 else None, "up_stderr": proc.stderr.strip()}
    ops = {}
    for label, info in names.items():
        key = "exec" if len(builds) == 1 else f"{label} exec"
        ops[key] = ("exec", info, [info["path"], "exec", info["name"], "--", "true"])
    ops["bwrap"] = ("bwrap", None, [bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"])
    order = list(ops)
    results = {k: [] for k in order}
    idle = {}
    # What an idle sandbox's side spends with nothing asked of it (subtracted from nothing; reported).
    for label, info in names.items():
        s0, i0, t0 = task_cpu_ns(info["supervisor"]), task_cpu_ns(info["init"]), time.perf_counter()
        time.sleep(3)
        s1, i1, t1 = task_cpu_ns(info["supervisor"]), task_cpu_ns(info["init"]), time.perf_counter()
        idle[label] = {"supervisor_cpu_ms_per_s": round((s1 - s0) / 1e6 / (t1 - t0), 4) if s0 is not None and s1 is not None else None,
                       "init_cpu_ms_per_s": round((i1 - i0) / 1e6 / (t1 - t0), 4) if i0 is not None and i1 is not None else None,
                       "supervisor_memory": process_memory(info["supervisor"])}
        info["reaped_start"] = reaped_cpu_ms(info["init"])
    for round_index in range(args.warmup + args.runs):
        shift = round_index % len(order)
        for key in order[shift:] + order[:shift]:
            kind, info, argv = ops[key]
            if kind == "exec":
                if round_index == args.warmup:
                    info["reaped_start"] = reaped_cpu_ms(info["init"])
                s0, c0 = task_cpu_ns(info["supervisor"]), task_cpu_ns(info["init"])
            run, code, stderr = run_waited(argv, env, info["workspace"] if info else scratch)
            if code != 0:
                raise RuntimeError(f"benchmark command failed ({code}): {' '.join(argv)}\n{stderr.decode(errors='replace')}")
            if kind == "exec":
                s1, c1 = task_cpu_ns(info["supervisor"]), task_cpu_ns(info["init"])
                run["supervisor_cpu_ms"] = round((s1 - s0) / 1e6, 3) if s0 is not None and s1 is not None else None
                run["init_cpu_ms"] = round((c1 - c0) / 1e6, 3) if c0 is not None and c1 is not None else None
                run["total_cpu_ms"] = round(run["cpu_ms"] + (run["supervisor_cpu_ms"] or 0) + (run["init_cpu_ms"] or 0), 3)
            else:
                run["total_cpu_ms"] = run["cpu_ms"]
            if round_index >= args.warmup:
                results[key].append(run)
    after = {label: {"supervisor": process_memory(info["supervisor"]), "init": process_memory(info["init"])} for label, info in names.items()}
    command_cpu = {}
    for label, info in names.items():
        end = reaped_cpu_ms(info["init"])
        command_cpu[label] = round((end - info["reaped_start"]) / args.runs, 3) if end is not None and info.get("reaped_start") is not None else None
    teardown = sandboxes.teardown([(info["path"], info["name"], info["workspace"]) for info in names.values()])
    bwrap_median = statistics.median(r["wall_ms"] for r in results["bwrap"])
    bwrap_cpu = statistics.median(r["total_cpu_ms"] for r in results["bwrap"])
    summaries = {}
    for key in order:
        kind, info, argv = ops[key]
        runs = results[key]
        s = {"command": " ".join(["cordon" if kind == "exec" else "bwrap"] + argv[1:]),
             "wall_ms": stats([r["wall_ms"] for r in runs]), "client_cpu_ms": stats([r["cpu_ms"] for r in runs]),
             "total_cpu_ms": stats([r["total_cpu_ms"] for r in runs]),
             "load1": {"min": min(r["load1"] for r in runs), "max": max(r["load1"] for r in runs)}}
        if kind == "exec":
            s["supervisor_cpu_ms"] = stats([r["supervisor_cpu_ms"] for r in runs if r["supervisor_cpu_ms"] is not None])
            s["init_cpu_ms"] = stats([r["init_cpu_ms"] for r in runs if r["init_cpu_ms"] is not None])
            label = next(l for l, i in names.items() if i is info)
            s["command_cpu_ms_mean"] = command_cpu[label]
            s["ratio_to_bwrap_median"] = round(s["wall_ms"]["median"] / bwrap_median, 2)
            total = s["total_cpu_ms"]["median"] + (command_cpu[label] or 0)
            s["cpu_with_command_ms"] = round(total, 3)
            s["cpu_ratio_to_bwrap_median"] = round(total / bwrap_cpu, 2)
        summaries[key] = s
    return {"results": summaries, "idle_cpu": idle, "supervisor_after": after, "teardown": teardown,
            "sandboxes": {label: {k: v for k, v in info.items() if k in ("name", "up_stderr")} for label, info in names.items()},
            "runs": results}


# --- density ------------------------------------------------------------------------------------

def limits():
    """What could stop N sandboxes from starting, as the host has it now."""
    def num(path):
        text = read(path)
        return int(text.split()[0]) if text and text.split()[0].isdigit() else text.strip() if text else None
    registry = "/var/lib/cordon/uid-ranges"
    claims = len([n for n in os.listdir(registry) if n.isdigit()]) if os.path.isdir(registry) else 0
    inotify_in_use = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:inotify":
                        inotify_in_use += 1
                except OSError:
                    pass
        except OSError:
            pass
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return {"uid_blocks_total": 4094 if os.getuid() == 0 else None, "uid_block_claims_now": claims if os.getuid() == 0 else None,
            "uid_note": "claims whose sandbox directory is gone are taken back by a new claim",
            "inotify_max_user_instances": num("/proc/sys/fs/inotify/max_user_instances"),
            "inotify_instances_in_use": inotify_in_use,
            "open_files_soft_hard": [soft, hard], "pid_max": num("/proc/sys/kernel/pid_max"),
            "threads_max": num("/proc/sys/kernel/threads-max"), "max_user_namespaces": num("/proc/sys/user/max_user_namespaces"),
            "max_net_namespaces": num("/proc/sys/user/max_net_namespaces"),
            "cgroup": "v2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "v1",
            "mem_total_kb": int((read("/proc/meminfo") or "MemTotal: 0").split()[1])}


def bench_density(label, path, n, parallel, env, scratch, sandboxes):
    entries = []
    for i in range(n):
        workspace = os.path.join(scratch, f"d{n}-{label}-ws{i}")
        os.makedirs(workspace)
        entries.append((path, f"lbd{n}-{i}", workspace))
    subprocess.run(["sync"])
    time.sleep(1)
    mem_before = mem_available_kb()
    kernel_before = meminfo()
    load_before = load1()
    ups = []

    def up(entry):
        p, name, workspace = entry
        sandboxes.add(p, name, workspace)
        t0 = time.perf_counter()
        proc = cordon(p, ["up", "--name", name], env, workspace, check=False)
        return {"name": name, "ms": round((time.perf_counter() - t0) * 1000, 3), "status": proc.returncode,
                "stderr": proc.stderr.strip()[-400:]}

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        ups = list(pool.map(up, entries))
    all_up_ms = (time.perf_counter() - t0) * 1000
    failed = [u for u in ups if u["status"] != 0]
    # Every `up` returned: ls says which are running.
    listing = json.loads(cordon(path, ["ls", "--json"], env, scratch).stdout)
    running = {s["name"] for s in listing["sandboxes"] if s.get("state") == "running"}
    ready_ms = (time.perf_counter() - t0) * 1000
    ours = [e for e in entries if e[1] in running]
    time.sleep(2)  # the supervisors settle (the audit watcher starts 0.5 s in)
    mem_after = mem_available_kb()
    kernel_after = meminfo()
    load_after = load1()
    per = []
    cgroup_mem = []
    for p, name, workspace in ours:
        status = status_of(p, name, env, workspace)
        pid = status.get("supervisor_pid")
        if not pid:
            continue
        tree = process_tree(pid)
        procs = [dict(process_memory(q), depth=d) for q, d in tree]
        memfile = memory_path(status.get("cgroups") or [])
        charged = int(read(memfile).strip()) if memfile and read(memfile) else None
        if charged is not None:
            cgroup_mem.append(charged / 1024)
        per.append({"name": name, "processes": procs, "cgroup_memory_kb": round(charged / 1024) if charged is not None else None})
    # What the idle sandboxes spend doing nothing: every supervisor's and init's threads over 3 s.
    pids = [pr["pid"] for s in per for pr in s["processes"]]
    c0, t0 = sum(task_cpu_ns(q) or 0 for q in pids), time.perf_counter()
    time.sleep(3)
    c1, t1 = sum(task_cpu_ns(q) or 0 for q in pids), time.perf_counter()
    idle_ms_per_s = (c1 - c0) / 1e6 / (t1 - t0) / max(1, len(per))
    listing_after = json.loads(cordon(path, ["ls", "--json"], env, scratch).stdout)
    still = sum(1 for s in listing_after["sandboxes"] if s["name"] in {e[1] for e in entries} and s.get("state") == "running")
    teardown_t0 = time.perf_counter()
    teardown = sandboxes.teardown(entries, parallel=parallel)
    teardown_ms = (time.perf_counter() - teardown_t0) * 1000
    time.sleep(1)
    mem_end = mem_available_kb()

    def agg(select):
        return stats([sum(pr.get(select) or 0 for pr in s["processes"] if pr["depth"] == 0) / 1024 for s in per])

    sup = lambda field: stats([s["processes"][0][field] / 1024 for s in per if s["processes"] and s["processes"][0].get(field) is not None])
    others = lambda field: stats([sum((pr.get(field) or 0) for pr in s["processes"][1:]) / 1024 for s in per])
    kinds = sorted({(pr["depth"], pr["name"]) for s in per for pr in s["processes"]})
    return {
        "n": n, "parallel": parallel, "started": len(ups) - len(failed), "running_after": still,
        "failures": failed[:10], "failure_count": len(failed),
        "all_up_returned_ms": round(all_up_ms, 1), "all_ready_ms": round(ready_ms, 1),
        "up_ms": stats([u["ms"] for u in ups if u["status"] == 0]),
        "processes_per_sandbox": [{"depth": d, "name": nm} for d, nm in kinds],
        "supervisor_rss_mb": sup("rss_kb"), "supervisor_pss_mb": sup("pss_kb"), "supervisor_anon_mb": sup("anonymous_kb"),
        "supervisor_threads": stats([s["processes"][0]["threads"] for s in per if s["processes"]]),
        "under_supervisor_rss_mb": others("rss_kb"), "under_supervisor_pss_mb": others("pss_kb"),
        "sandbox_cgroup_memory_mb": stats([m / 1024 for m in cgroup_mem]),
        "idle_cpu_ms_per_s_per_sandbox": round(idle_ms_per_s, 4),
        "mem_available_drop_mb_per_sandbox": round((mem_before - mem_after) / 1024 / max(1, len(ours)), 2),
        "mem_available_mb": {"before": round(mem_before / 1024), "all_up": round(mem_after / 1024), "after_teardown": round(mem_end / 1024)},
        # Less disturbed by other processes than MemAvailable (a shared host's builds move it by
        # hundreds of MB): the kernel's own objects (namespaces, sockets, mounts, tmpfs pages).
        "kernel_mb_per_sandbox": {k: round((kernel_after.get(k, 0) - kernel_before.get(k, 0)) / 1024 / max(1, len(ours)), 3)
                                  for k in KERNEL_FIELDS},
        "load1": {"before": load_before, "all_up": load_after},
        "teardown": dict(teardown, all_ms=round(teardown_ms, 1)),
        "per_sandbox": per,
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cordon", action="append", help="[LABEL=]PATH of a release cordon (repeat to compare builds)")
    parser.add_argument("--runs", type=int, default=60, help="measured exec rounds (default 60)")
    parser.add_argument("--warmup", type=int, default=5, help="exec rounds run first and not counted (default 5)")
    parser.add_argument("--density", default="10,50,100", help="numbers of idle sandboxes to bring up (default 10,50,100)")
    parser.add_argument("--parallel", type=int, default=1, help="density: `up` (and down/rm) this many at a time (default 1)")
    parser.add_argument("--no-exec", action="store_true", help="skip the exec part")
    parser.add_argument("--no-density", action="store_true", help="skip the density part")
    parser.add_argument("--out", default=os.path.join(root, "bench", "results", "lifecycle.json"))
    args = parser.parse_args()
    bwrap = require_bwrap()
    builds = release_builds(args.cordon, root)
    densities = [int(n) for n in args.density.split(",") if n.strip()] if not args.no_density else []

    scratch = tempfile.mkdtemp(prefix="cordon-lifebench-")
    os.chmod(scratch, 0o755)
    env = {"HOME": os.path.join(scratch, "home"), "XDG_STATE_HOME": os.path.join(scratch, "state"),
           "XDG_CONFIG_HOME": os.path.join(scratch, "config"), "PATH": "/usr/bin:/bin"}
    os.makedirs(env["HOME"])
    sandboxes = Sandboxes(env)

    def interrupted(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)

    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    result = {"benchmark": "lifecycle", "started": started, "uid": os.getuid(),
              "host": {"kernel": platform.release(), "cpus": os.cpu_count()},
              "builds": {label: describe_binary(path) for label, path in builds}, "bwrap": {"path": bwrap},
              "limits": limits()}
    loads = [load1()]
    try:
        if not args.no_exec:
            result["exec"] = bench_exec(builds, bwrap, args, env, scratch, sandboxes)
            loads += [r["load1"] for runs in result["exec"]["runs"].values() for r in runs]
        if densities:
            result["density"] = {}
            for label, path in builds:
                rows = []
                for n in densities:
                    row = bench_density(label, path, n, args.parallel, env, scratch, sandboxes)
                    rows.append(row)
                    loads += [row["load1"]["before"], row["load1"]["all_up"]]
                    print(f"{label:>8} density {n:4d}: ready in {row['all_ready_ms'] / 1000:7.2f} s, "
                          f"{row['started']}/{n} up, supervisor RSS {row['supervisor_rss_mb']['median'] if row['supervisor_rss_mb'] else None} MB "
                          f"(PSS {row['supervisor_pss_mb']['median'] if row['supervisor_pss_mb'] else None}), "
                          f"MemAvailable -{row['mem_available_drop_mb_per_sandbox']} MB each, "
                          f"idle CPU {row['idle_cpu_ms_per_s_per_sandbox']:.2f} ms/s each", file=sys.stderr)
                result["density"][label] = rows
    finally:
        leftover = sandboxes.teardown() if sandboxes.up else None
        if leftover:
            result["teardown_on_exit"] = leftover
        shutil.rmtree(scratch, ignore_errors=True)
    result["load1"] = {"min": min(loads), "median": statistics.median(loads), "max": max(loads),
                       "quiet": max(loads) < QUIET_LOAD, "quiet_threshold": QUIET_LOAD}
    result["what"] = {
        "profile": "the built-in default (overlay workspace, network: proxy with capture, seccomp, Landlock, capabilities dropped, cgroup limits)",
        "workspace": "an empty temporary directory per sandbox; HOME, XDG_STATE_HOME and XDG_CONFIG_HOME in a fresh temporary directory",
        "exec": "cordon up --name lbexecN, then rounds of `cordon exec lbexecN -- true` and bwrap (order rotating); stdin /dev/null, "
                "stdout /dev/null, stderr a pipe (no terminal: no pty)",
        "wall_ms": "fork to reap, measured by this script (Python's own spawn cost is in every figure)",
        "client_cpu_ms": "user + system of the command and every descendant it waited for (wait4)",
        "supervisor_cpu_ms": "run time of the sandbox's supervisor's threads during the op (schedstat, ns)",
        "init_cpu_ms": "run time of the sandbox's init during the op (schedstat, ns): the fork and the reports",
        "command_cpu_ms_mean": "the command's own CPU (init reaps it): growth of init's cutime + cstime over the rounds / rounds (clock ticks)",
        "total_cpu_ms": "exec: client + supervisor + init per op; bwrap: client (wait4 covers all its processes)",
        "cpu_with_command_ms": "exec: median total_cpu_ms + command_cpu_ms_mean, compared with bwrap's (cpu_ratio_to_bwrap_median)",
        "density": "N sandboxes brought up with `cordon up --name lbdN-I` (--parallel at a time), each its own empty workspace; "
                   "ready = every up returned (up returns when its sandbox serves) and ls --json says running; memory read 2 s later; "
                   "idle CPU: every supervisor's and init's threads' run time over the next 3 s, per sandbox and second",
        "rss/pss": "/proc/PID/smaps_rollup of the supervisor (depth 0; the proxy runs as its threads, started when the sandbox "
                   "first uses the network: idle sandboxes never start it) and of the processes under it (init)",
        "mem_available_drop": "(MemAvailable before the ups - MemAvailable with all up) / N: includes kernel memory; "
                              "moved by every other process on a shared host",
        "kernel_mb_per_sandbox": "growth of /proc/meminfo's Slab, KernelStack, PageTables and Shmem over the ups / N",
    }
    result["targets"] = {"exec_ratio_max": 1.5, "idle_sandboxes": 100, "supervisor_and_proxy_rss_mb_max": 15,
                         "valid_when": f"load1 < {QUIET_LOAD} throughout"}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)

    def brief(value):
        if isinstance(value, dict):
            return {k: brief(v) for k, v in value.items() if k not in ("runs", "per_sandbox")}
        if isinstance(value, list):
            return [brief(v) for v in value]
        return value
    print(json.dumps(brief(result), indent=2))
    if "exec" in result:
        for key, s in result["exec"]["results"].items():
            ratio = f"  ratio {s['ratio_to_bwrap_median']:.2f} (CPU {s['cpu_ratio_to_bwrap_median']:.2f})" if "ratio_to_bwrap_median" in s else ""
            cpu = s.get("cpu_with_command_ms", s["total_cpu_ms"]["median"])
            print(f"{key:>16}: wall median {s['wall_ms']['median']:7.2f} ms (p90 {s['wall_ms']['p90']:7.2f}), "
                  f"CPU {cpu:6.2f} ms (client {s['client_cpu_ms']['median']:.2f}){ratio}  "
                  f"[load {s['load1']['min']:.2f}-{s['load1']['max']:.2f}]", file=sys.stderr)


if __name__ == "__main__":
    main()
