#!/usr/bin/env python3
"""bench/dlp: throughput of the outbound leak check (CordonScan.StreamingLeakCheck) on a clean
request body, so the proxy's cost per intercepted MB is known.

Runs the StreamingLeakCheckBench test (it streams N MiB of request-like text through one checker
in 16 KiB, 64 KiB and 1 KiB chunks, best of three each) and prints and writes its JSON, with the
build configuration and the machine's load beside it. The peer figure beside it is the sync
gate's own scan of the same text as one file (`SecretScanner.Session.scan`, what `cordon scan`
does per file, up to 64 MiB): the window's overlap and per-window work are the difference.
Usage: bench/dlp/run.py [--mib N] [--configuration release|debug] [--scratch-path DIR] [--out FILE]
Release numbers need `swift build -c release --build-tests` first (debug builds run the Swift
glue unoptimised: a lower bound only).
"""
import argparse, json, os, re, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import common  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--configuration", default="release", choices=["release", "debug"])
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "dlp.json"))
    ap.add_argument("--scratch-path", help="the build directory, when not .build")
    args = ap.parse_args()
    env = dict(os.environ, CORDON_BENCH_DLP=str(args.mib))
    load_before = common.load1()
    scratch = ["--scratch-path", args.scratch_path] if args.scratch_path else []
    proc = subprocess.run(["swift", "test", "-c", args.configuration, "--skip-build", *scratch, "--filter", "StreamingLeakCheckBench"],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    match = re.search(r"^dlp-bench (\{.*\})$", proc.stdout, re.M)
    if proc.returncode != 0 or not match:
        sys.exit(f"the bench test did not report (exit {proc.returncode}); build first: "
                 f"swift build -c {args.configuration} --build-tests\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    result = json.loads(match.group(1))
    result.update({"configuration": args.configuration, "load1_before": load_before, "load1_after": common.load1(),
                   "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": os.cpu_count()})
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
