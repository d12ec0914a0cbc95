#!/usr/bin/env python3
"""bench/startup: sandbox start-up as a user meets it, against bubblewrap, interleaved.

Three commands (four with --with-first), one after the other in every round (their order rotates
from round to round):
  fresh   `cordon run -- true`               a new sandbox each time: new name, network namespace
                                             and veth, cgroup, machine-id (as root: its uid range
                                             claimed); what `cordon run -- CMD` does again and
                                             again. A run that leaves nothing leaves no state
                                             directory: its emptied one serves the next new
                                             sandbox (SpareStateDirectories), so from the second
                                             run on the state directory is a spare one's
  first   `cordon run -- true`, no spare     (--with-first) the same, with the spare directories
                                             removed before it (not timed): a state directory made
                                             from nothing, as the very first run meets it. Off by
                                             default: deleting the spares each round frees inodes
                                             that every later allocation on a journal-less ext4
                                             skips for minutes, which slows the other rows too
  reused  `cordon run --name bench -- true`  the same sandbox again (state directory and uid
                                             range exist; the namespaces are new all the same)
  bwrap   `bwrap --unshare-all --die-with-parent --ro-bind / / --proc /proc --dev /dev true`
Each run records its wall time, the CPU time of the process and everything it waited for
(user + system, from wait4), for cordon the supervisor's peak resident size (VmHWM, which cordon
logs in the sandbox's events.jsonl when it ends) and the host's 1-minute load average when it
started. Timings depend on the load: compare ratios within one run and report the load beside
them; the targets (fresh <= 3x bwrap, supervisor peak RSS < 20 MB) are for a quiet host (load < 1.6).

Usage: bench/startup/run.py [--cordon [LABEL=]PATH ...] [--runs N] [--warmup N] [--out FILE]
More than one --cordon compares builds: every build's fresh and reused runs join each round.
Writes JSON to bench/results/startup.json (or --out) and prints it.
"""
import argparse, json, os, platform, shutil, statistics, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from common import describe_binary, load1, release_builds, require_bwrap, run_waited  # noqa: E402

QUIET_LOAD = 1.6



def timed(argv, env, cwd):
    """One run: wall ms, CPU ms (user + system of it and its waited descendants), its stderr."""
    measured, status, stderr = run_waited(argv, env, cwd)
    if status != 0:
        sys.exit(f"benchmark command failed ({status}): {' '.join(argv)}\n{stderr.decode(errors='replace')}")
    return measured, stderr


def supervisor_peak(state_home, stderr, name):
    """VmHWM of the supervisor at the run's end (the exit event cordon logged), MB; the sandbox
    is the one named on the command line or the one cordon said it generated."""
    if name is None:
        for line in stderr.decode(errors="replace").splitlines():
            if line.startswith("cordon: sandbox "):
                name = line.split()[2]
    if name is None:
        return None
    try:
        with open(os.path.join(state_home, "cordon", "sandboxes", name, "events.jsonl")) as f:
            exits = [json.loads(line) for line in f if '"exit"' in line]
    except (OSError, ValueError):
        return None
    kb = exits[-1].get("supervisor_peak_rss_kb") if exits else None
    return round(kb / 1024, 2) if kb else None


def summary(runs):
    def stats(values):
        ordered = sorted(values)
        return {"median": round(statistics.median(ordered), 3), "p10": round(ordered[len(ordered) // 10], 3),
                "p90": round(ordered[(len(ordered) * 9) // 10], 3), "min": round(ordered[0], 3), "max": round(ordered[-1], 3)}
    loads = [r["load1"] for r in runs]
    peaks = [r["supervisor_peak_rss_mb"] for r in runs if r.get("supervisor_peak_rss_mb") is not None]
    return {"wall_ms": stats([r["wall_ms"] for r in runs]), "cpu_ms": stats([r["cpu_ms"] for r in runs]),
            **({"supervisor_peak_rss_mb": stats(peaks)} if peaks else {}),
            "load1": {"min": min(loads), "median": statistics.median(loads), "max": max(loads)}}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cordon", action="append", help="[LABEL=]PATH of a release cordon (repeat to compare builds)")
    parser.add_argument("--runs", type=int, default=40, help="measured rounds (default 40)")
    parser.add_argument("--warmup", type=int, default=3, help="rounds run first and not counted (default 3)")
    parser.add_argument("--with-first", action="store_true", help="also time a fresh sandbox with no spare state directory")
    parser.add_argument("--out", default=os.path.join(root, "bench", "results", "startup.json"))
    args = parser.parse_args()
    bwrap = require_bwrap()
    builds = release_builds(args.cordon, root)

    scratch = tempfile.mkdtemp(prefix="cordon-bench-")
    os.chmod(scratch, 0o755)
    workspace = os.path.join(scratch, "workspace")
    os.makedirs(workspace)
    env = {"HOME": os.path.join(scratch, "home"), "XDG_STATE_HOME": os.path.join(scratch, "state"),
           "XDG_CONFIG_HOME": os.path.join(scratch, "config"), "PATH": "/usr/bin:/bin"}
    os.makedirs(env["HOME"])
    commands, sandbox_names = {}, {}
    for index, (label, path) in enumerate(builds):
        prefix = "" if len(builds) == 1 else label + " "
        commands[prefix + "fresh"] = [path, "run", "--", "true"]
        if args.with_first:
            commands[prefix + "first"] = [path, "run", "--", "true"]
        # Each build its own re-used sandbox: one build's record must not be read by another.
        commands[prefix + "reused"] = [path, "run", "--name", f"bench{index}", "--", "true"]
        sandbox_names[prefix + "fresh"], sandbox_names[prefix + "first"], sandbox_names[prefix + "reused"] = None, None, f"bench{index}"
    commands["bwrap"] = [bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"]
    names = list(commands)
    results = {name: [] for name in names}
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for round_index in range(args.warmup + args.runs):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            if name.endswith("first"):
                shutil.rmtree(os.path.join(env["XDG_STATE_HOME"], "cordon", "spare"), ignore_errors=True)
            run, stderr = timed(commands[name], env, workspace)
            if name != "bwrap":
                run["supervisor_peak_rss_mb"] = supervisor_peak(env["XDG_STATE_HOME"], stderr, sandbox_names[name])
            if round_index >= args.warmup:
                results[name].append(run)

    bwrap_median = statistics.median(r["wall_ms"] for r in results["bwrap"])
    summaries = {}
    for name in names:
        shown = ["bwrap" if name == "bwrap" else "cordon"] + commands[name][1:]
        summaries[name] = {"command": " ".join(shown), "binary": commands[name][0],
                           **summary(results[name])}
        if name != "bwrap":
            summaries[name]["ratio_to_bwrap_median"] = round(summaries[name]["wall_ms"]["median"] / bwrap_median, 2)
    loads = [r["load1"] for runs in results.values() for r in runs]
    result = {
        "benchmark": "startup",
        "started": started,
        "rounds": args.runs,
        "warmup_rounds": args.warmup,
        "order": "every round runs each command once; the order rotates by one each round",
        "what": {
            "fresh": "cordon run -- true: a new sandbox each run (generated name, new namespaces, cgroup, machine-id, uid claim "
                     "when root); its state directory is the spare an earlier empty run left (SpareStateDirectories)",
            **({"first": "cordon run -- true with no spare state directory (the bench removes them before it, untimed): "
                         "every directory and file of the state made anew"} if args.with_first else {}),
            "reused": "cordon run --name benchN -- true: the same sandbox each run (new namespaces, existing state)",
            "profile": "the built-in default (overlay workspace, network: proxy with capture, seccomp, Landlock, "
                       "capabilities dropped, cgroup limits)",
            "workspace": "an empty directory; HOME, XDG_STATE_HOME and XDG_CONFIG_HOME in a fresh temporary directory",
            "wall_ms": "fork to reap, measured by this script (Python's own spawn cost is in every figure)",
            "cpu_ms": "user + system time of the command and every descendant it waited for (wait4)",
            "supervisor_peak_rss_mb": "VmHWM of cordon's supervisor when the sandbox ended (its exit event in events.jsonl; "
                                      "reused only: a fresh sandbox that leaves nothing keeps no events)",
        },
        "builds": {label: describe_binary(path) for label, path in builds},
        "bwrap": {"path": bwrap},
        "results": summaries,
        "load1": {"min": min(loads), "median": statistics.median(loads), "max": max(loads),
                  "quiet": max(loads) < QUIET_LOAD, "quiet_threshold": QUIET_LOAD},
        "targets": {"fresh_ratio_max": 3.0, "fresh_means": "the fresh row (what a user's repeated cordon run -- CMD meets)", "supervisor_peak_rss_mb_max": 20, "valid_when": f"load1 < {QUIET_LOAD} throughout"},
        "uid": os.getuid(),
        "host": {"kernel": platform.release(), "cpus": os.cpu_count()},
        "runs": results,
    }
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    brief = {k: v for k, v in result.items() if k != "runs"}
    print(json.dumps(brief, indent=2))
    for name in names:
        s = summaries[name]
        rss = f", supervisor peak RSS {s['supervisor_peak_rss_mb']['max']:5.1f} MB" if "supervisor_peak_rss_mb" in s else ""
        ratio = f"  ratio {s['ratio_to_bwrap_median']:.2f}" if "ratio_to_bwrap_median" in s else ""
        print(f"{name:>16}: wall median {s['wall_ms']['median']:7.2f} ms (p90 {s['wall_ms']['p90']:7.2f}), "
              f"cpu {s['cpu_ms']['median']:6.2f} ms{rss}{ratio}  "
              f"[load {s['load1']['min']:.2f}-{s['load1']['max']:.2f}]", file=sys.stderr)


if __name__ == "__main__":
    main()
