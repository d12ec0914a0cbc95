#!/usr/bin/env python3
"""bench/sync: `cordon sync NAME --auto` applying 10,000 small files, against an unchecked copy.

Builds a sandbox state dir by hand (sandbox.json, upper/ with the agent's writes, a workspace as
the lower layer: new files, modified files, deletions as whiteouts), then times:
  - `cordon sync bench --dry-run --json` (read the change set + the gate: scan, policy, traps),
  - `cordon sync bench --auto --json` (the same plus the crash-safe apply: temp file, fsync,
    rename, directory fsyncs, journal, upper cleanup),
  - the peer: `cp -a upper/. copy/` followed by `sync -f` (no checks, no per-file fsync, no
    deletions), on an identical tree.
Each run uses a fresh tree. Prints and writes JSON. Target: the apply of 10,000 files < 2 s.
Usage: bench/sync/run.py [--cordon PATH] [--files N] [--runs N] [--dir DIR] [--out FILE]
"""
import argparse, json, os, random, shutil, statistics, string, subprocess, sys, time


def build(base, files, seed):
    """A sandbox state dir under base/state and its workspace under base/workspace."""
    shutil.rmtree(base, ignore_errors=True)
    state, workspace = os.path.join(base, "state"), os.path.join(base, "workspace")
    upper = os.path.join(state, "upper")
    os.makedirs(upper)
    os.makedirs(workspace)
    rng = random.Random(seed)
    words = ["value", "index", "count", "handler", "result", "buffer", "render", "parse"]
    modified = files // 10
    deleted = files // 100
    # Host files before the sandbox ran: the ones the agent will modify or delete.
    for i in range(modified + deleted):
        path = os.path.join(workspace, "src%02d" % (i % 50), "old%05d.py" % i)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("def %s_%d():\n    return %d\n" % (rng.choice(words), i, i))
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 5))
    # The agent's writes: new files, modified files, and whiteouts (0/0 char devices need root;
    # the fuse-overlayfs `.wh.NAME` form works anywhere).
    for i in range(files - modified):
        path = os.path.join(upper, "pkg%03d" % (i % 100), "new%05d.py" % i)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("def %s_%d(x):\n    return x * %d\n" % (rng.choice(words), i, rng.randint(0, 999)))
    for i in range(modified):
        path = os.path.join(upper, "src%02d" % (i % 50), "old%05d.py" % i)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("def %s_%d():\n    return %d  # changed\n" % (rng.choice(words), i, i + 1))
    for i in range(modified, modified + deleted):
        d = os.path.join(upper, "src%02d" % (i % 50))
        os.makedirs(d, exist_ok=True)
        open(os.path.join(d, ".wh.old%05d.py" % i), "w").close()
    record = {"name": "bench", "profile": "builtin:default", "mode": "secure", "workspace": workspace,
              "overlayMounts": [], "created": created}
    with open(os.path.join(state, "sandbox.json"), "w") as f:
        json.dump(record, f)
    return state, workspace, upper


def run(argv, ok=(0,)):
    start = time.perf_counter()
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if result.returncode not in ok:
        sys.exit(f"benchmark command failed ({result.returncode}): {' '.join(argv)}\n{result.stderr.decode()[-2000:]}")
    return elapsed, result.stdout


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    parser = argparse.ArgumentParser()
    parser.add_argument("--cordon", default=os.path.join(root, ".build", "release", "cordon"))
    parser.add_argument("--files", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", default=os.path.join(root, "bench", "results", "sync-tree"))
    parser.add_argument("--out", default=os.path.join(root, "bench", "results", "sync.json"))
    args = parser.parse_args()
    if not os.access(args.cordon, os.X_OK):
        sys.exit(f"{args.cordon} not found; build it first: swift build -c release --static-swift-stdlib --product cordon")
    dry, full, peer = [], [], []
    applied = held = None
    for r in range(args.runs):
        state, workspace, upper = build(args.dir, args.files, r)
        t, _ = run([args.cordon, "sync", "bench", "--state-dir", state, "--dry-run", "--json"])
        dry.append(t)
        t, out = run([args.cordon, "sync", "bench", "--state-dir", state, "--auto", "--json"])
        full.append(t)
        report = json.loads(out)
        applied, held = len(report["applied"]), len(report["held"])
        missing = [p for p in report["applied"] if not os.path.lexists(os.path.join(workspace, p)) and "old" not in p]
        if missing:
            sys.exit(f"applied but absent from the workspace: {missing[:5]}")
        state, workspace, upper = build(args.dir, args.files, r)
        copy = os.path.join(args.dir, "copy")
        os.makedirs(copy)
        start = time.perf_counter()
        subprocess.run(["cp", "-a", upper + "/.", copy], check=True)
        subprocess.run(["sync", "-f", copy], check=True)
        peer.append(time.perf_counter() - start)
    shutil.rmtree(args.dir, ignore_errors=True)
    med = lambda v: round(statistics.median(v), 3)
    report = {
        "benchmark": "sync", "files": args.files, "runs": args.runs, "applied": applied, "held": held,
        "cordon_dry_run_s": med(dry), "cordon_sync_auto_s": med(full),
        "cordon_apply_only_s": round(statistics.median(f - d for f, d in zip(full, dry)), 3),
        "peer": "cp -a + sync -f (unchecked, no per-file fsync)", "peer_s": med(peer),
        "ratio_vs_peer": round(statistics.median(full) / statistics.median(peer), 2),
        "target_s": 2.0, "met": statistics.median(full) < 2.0,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
