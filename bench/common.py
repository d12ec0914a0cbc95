"""What the benchmarks share: the machine's load, the release builds under test (and what exactly
they are), and the peer's presence. Imported by the benchmarks."""
import hashlib, os, shutil, statistics, subprocess, sys, time

BUILD_HINT = "build it first: scripts/build-release"


def load1():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def describe_binary(path):
    """What was run: path, size, time, a hash of its first MiB, and whether it loads the Swift runtime dynamically."""
    st = os.stat(path)
    with open(path, "rb") as f:
        head = hashlib.sha256(f.read(1 << 20)).hexdigest()[:16]
    try:
        dynamic = subprocess.run(["readelf", "--dynamic", path], capture_output=True, text=True).stdout
        needed = [line.split("[")[-1].rstrip("]") for line in dynamic.splitlines() if "(NEEDED)" in line]
    except OSError:
        needed = None
    described = {"path": path, "bytes": st.st_size, "mtime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(st.st_mtime)),
                 "sha256_first_mib": head, "shared_libraries": needed}
    if needed is not None:
        described["swift_runtime"] = "dynamic (not the documented build)" if any(n.startswith("libswiftCore") for n in needed) else "static"
        # The documented build links these statically (link/static/README.md): a binary that loads
        # them pays ~1.5 ms more on every start.
        loaded = [n for n in needed if n.startswith(("libstdc++.so", "libhs.so"))]
        if loaded:
            described["note"] = f"loads {', '.join(loaded)} at run time: not the documented build (link/static/README.md)"
            print(f"warning: {path} {described['note']}", file=sys.stderr)
    return described


def require_bwrap():
    """bubblewrap's path (the peer every comparison runs in the same round); exits without it."""
    bwrap = shutil.which("bwrap")
    if not bwrap:
        sys.exit("bubblewrap is needed for the comparison: apt-get install bubblewrap")
    return bwrap


def release_builds(specs, root):
    """[(label, path)] from the --cordon [LABEL=]PATH options (default: this checkout's release build)."""
    builds = []
    for spec in specs or [os.path.join(root, ".build", "release", "cordon")]:
        label, _, path = spec.rpartition("=") if "=" in spec else ("", "", spec)
        path = os.path.abspath(path)
        if not os.access(path, os.X_OK):
            sys.exit(f"{path} not found: {BUILD_HINT}")
        builds.append((label or (f"build{len(builds) + 1}" if specs and len(specs) > 1 else "cordon"), path))
    return builds


def run_waited(argv, env, cwd):
    """One run: ({wall_ms, cpu_ms, load1}, exit status, stderr). CPU is user + system of the
    command and every descendant it waited for (Popen + wait4: communicate() would reap the child
    before wait4 can read its rusage). Not ru_maxrss: Linux carries the forking process's
    (Python's) peak over the exec into it."""
    load = load1()
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = (time.perf_counter() - start) * 1000
    return {"wall_ms": round(wall, 3), "cpu_ms": round((usage.ru_utime + usage.ru_stime) * 1000, 3), "load1": load}, os.waitstatus_to_exitcode(status), stderr


def stats(values):
    """Median, mean, p10/p90, min/max and count of `values` (None when empty), rounded to 3 places."""
    ordered = sorted(values)
    if not ordered:
        return None
    return {"median": round(statistics.median(ordered), 3), "mean": round(statistics.fmean(ordered), 3),
            "p10": round(ordered[len(ordered) // 10], 3), "p90": round(ordered[(len(ordered) * 9) // 10], 3),
            "min": round(ordered[0], 3), "max": round(ordered[-1], 3), "count": len(ordered)}
