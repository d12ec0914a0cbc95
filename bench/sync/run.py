#!/usr/bin/env python3
"""bench/sync: `cordon sync NAME --auto` applying 10,000 small files, against an unchecked copy.

Builds a sandbox state dir by hand (sandbox.json, upper/ with the agent's writes, a workspace as
the lower layer: new files, modified files, deletions as whiteouts), then times:
  - `cordon sync bench --dry-run --json` (read the change set + the gate: scan, policy, traps),
  - `cordon sync bench --auto --json` (the same plus the crash-safe apply: temp file, fsync,
    rename, directory fsyncs, journal, upper cleanup),
  - the peer: `cp -a upper/. copy/` followed by `sync -f` (no checks, no per-file fsync, no
    deletions), on an identical tree.
Each run uses a fresh tree in a directory of its own; the trees are removed only at the end (on
ext4 without a journal, inodes freed in the last minute slow every later creation down, so deleting
the previous run's 30,000 files first would time the benchmark's own churn).
`--fresh-ext4 MB` (root) runs on a new ext4 made with mkfs's defaults (journal on, no discard)
on a loop device, as a typical workstation's filesystem, instead of under `--dir`'s filesystem.
Prints and writes JSON. Target: the apply of 10,000 files < 2 s.
Usage: bench/sync/run.py [--cordon PATH] [--files N] [--runs N] [--dir DIR] [--fresh-ext4 MB] [--out FILE]
"""
import argparse, atexit, json, os, random, shutil, statistics, string, subprocess, sys, tempfile, time


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


def describe_filesystem(path):
    """The filesystem the trees live on: type and mount options, from /proc/self/mountinfo."""
    path = os.path.realpath(path or ".")
    best = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.split(" - ", 1)
            fields = left.split()
            mount_point, options = fields[4], fields[5]
            fstype, source, super_options = right.split()[:3]
            if path == mount_point or path.startswith(mount_point.rstrip("/") + "/"):
                if best is None or len(mount_point) > len(best["mount_point"]):
                    best = {"mount_point": mount_point, "type": fstype, "source": source,
                            "options": options + "," + super_options}
    return best


def fresh_ext4(size_mb):
    """A new ext4 (mkfs defaults: journal, no discard) on a loop device; removed at exit."""
    if os.geteuid() != 0:
        sys.exit("--fresh-ext4 needs root (mount)")
    work = tempfile.mkdtemp(prefix="cordon-bench-sync-", dir="/var/tmp")
    image, mount_point = os.path.join(work, "fs.img"), os.path.join(work, "mnt")
    os.makedirs(mount_point)
    with open(image, "wb") as f:
        f.truncate(size_mb * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", "-F", image], check=True)
    subprocess.run(["mount", "-o", "loop", image, mount_point], check=True)

    def cleanup():
        subprocess.run(["umount", mount_point])
        shutil.rmtree(work, ignore_errors=True)
    atexit.register(cleanup)
    return os.path.join(mount_point, "sync-tree")


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
    parser.add_argument("--fresh-ext4", type=int, metavar="MB", help="run on a new loop-mounted ext4 of this size (root)")
    parser.add_argument("--out", default=os.path.join(root, "bench", "results", "sync.json"))
    args = parser.parse_args()
    if not os.access(args.cordon, os.X_OK):
        sys.exit(f"{args.cordon} not found; build it first: scripts/build-release")
    filesystem = describe_filesystem(os.path.dirname(args.dir) if not args.fresh_ext4 else None)
    if args.fresh_ext4:
        args.dir = fresh_ext4(args.fresh_ext4)
        filesystem = describe_filesystem(args.dir)
    shutil.rmtree(args.dir, ignore_errors=True)
    dry, full, peer = [], [], []
    applied = held = None
    for r in range(args.runs):
        state, workspace, upper = build(os.path.join(args.dir, "cordon%d" % r), args.files, r)
        t, _ = run([args.cordon, "sync", "bench", "--state-dir", state, "--dry-run", "--json"])
        dry.append(t)
        t, out = run([args.cordon, "sync", "bench", "--state-dir", state, "--auto", "--json"])
        full.append(t)
        report = json.loads(out)
        applied, held = len(report["applied"]), len(report["held"])
        missing = [p for p in report["applied"] if not os.path.lexists(os.path.join(workspace, p)) and "old" not in p]
        if missing:
            sys.exit(f"applied but absent from the workspace: {missing[:5]}")
        base = os.path.join(args.dir, "peer%d" % r)
        state, workspace, upper = build(base, args.files, r)
        copy = os.path.join(base, "copy")
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
        "filesystem": filesystem, "load_average": os.getloadavg(),
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
