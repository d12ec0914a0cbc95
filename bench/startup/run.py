#!/usr/bin/env python3
"""bench/startup: `cordon run -- true` against bubblewrap, alternating, in one run.

Prints (and writes) JSON with both medians, the ratio, and the supervisor's peak RSS.
Usage: bench/startup/run.py [--cordon PATH] [--runs N] [--out FILE]
"""
import argparse, json, os, platform, shutil, statistics, subprocess, sys, tempfile, time

def timed(argv, env, cwd):
    start = time.perf_counter()
    result = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = (time.perf_counter() - start) * 1000
    if result.returncode != 0:
        sys.exit(f"benchmark command failed ({result.returncode}): {' '.join(argv)}")
    return elapsed

def peak_rss_mb(cordon, env, cwd, samples=5):
    """VmHWM of the cordon supervisor while its sandbox runs (sampled late in the run)."""
    peaks = []
    for i in range(samples):
        proc = subprocess.Popen([cordon, "run", "--name", f"rss{i}", "--", "sleep", "0.6"], env=env, cwd=cwd,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.45)
        try:
            with open(f"/proc/{proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peaks.append(int(line.split()[1]) / 1024)
        except FileNotFoundError:
            pass
        proc.wait()
    return max(peaks) if peaks else None

def summary(values):
    ordered = sorted(values)
    return {"median": round(statistics.median(ordered), 3), "p10": round(ordered[len(ordered) // 10], 3),
            "p90": round(ordered[(len(ordered) * 9) // 10], 3), "min": round(ordered[0], 3)}

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    parser = argparse.ArgumentParser()
    parser.add_argument("--cordon", default=os.path.join(root, ".build", "release", "cordon"))
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--out", default=os.path.join(root, "bench", "results", "startup.json"))
    args = parser.parse_args()
    bwrap = shutil.which("bwrap")
    if not bwrap:
        sys.exit("bubblewrap is needed for the comparison: apt-get install bubblewrap")
    if not os.access(args.cordon, os.X_OK):
        sys.exit(f"{args.cordon} not found: swift build -c release --product cordon-init && swift build -c release --product cordon")

    scratch = tempfile.mkdtemp(prefix="cordon-bench-")
    workspace = os.path.join(scratch, "workspace")
    os.makedirs(workspace)
    env = {"HOME": os.path.join(scratch, "home"), "XDG_STATE_HOME": os.path.join(scratch, "state"),
           "XDG_CONFIG_HOME": os.path.join(scratch, "config"), "PATH": "/usr/bin:/bin"}
    os.makedirs(env["HOME"])
    cordon_cmd = [args.cordon, "run", "--name", "bench", "--", "true"]
    bwrap_cmd = [bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"]
    for _ in range(3):
        timed(cordon_cmd, env, workspace)
        timed(bwrap_cmd, env, workspace)
    cordon_ms, bwrap_ms = [], []
    for _ in range(args.runs):
        cordon_ms.append(timed(cordon_cmd, env, workspace))
        bwrap_ms.append(timed(bwrap_cmd, env, workspace))
    rss = peak_rss_mb(args.cordon, env, workspace)
    c, b = summary(cordon_ms), summary(bwrap_ms)
    result = {
        "benchmark": "startup",
        "runs_each": args.runs,
        "cordon": {"command": "cordon run -- true (default profile: overlay workspace, seccomp, Landlock, caps dropped, cgroup or rlimits)", "ms": c},
        "bwrap": {"command": " ".join(["bwrap"] + bwrap_cmd[1:]), "ms": b},
        "ratio_median": round(c["median"] / b["median"], 2),
        "target_ratio_max": 3.0,
        "supervisor_peak_rss_mb": round(rss, 1) if rss is not None else None,
        "target_rss_mb_max": 20,
        "uid": os.getuid(),
        "host": {"kernel": platform.release(), "cpus": os.cpu_count()},
    }
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))

if __name__ == "__main__":
    main()
