import Glibc

/// The two small Python programs of the process, resource and isolation attacks. `inside.py`
/// makes the system calls the shell has no command for (kernel objects held for a few seconds,
/// keys, TIOCSTI, descriptors, memory, forks, a listener) and runs both in a sandbox and, for a
/// control, on the host. `watch.py` runs on the host only: it watches the processes whose command
/// line carries a tag and records what the kernel shows of them (their descriptors, their number,
/// their memory, their CPU time) and how long a host probe takes meanwhile, so that a verdict
/// is what the host saw, never what the attacker said.
enum ProcessTools {
    /// Writes `inside.py` to `<directory>/.selftest/inside.py`; returns its path.
    static func installInside(in directory: String, _ environment: SelftestEnvironment) throws(SelftestFailure) -> String {
        try PythonTool.require(environment)
        let path = directory + "/.selftest/inside.py"
        try environment.write(path, inside)
        return path
    }

    /// Writes `watch.py` to the host directory (once); returns its path.
    static func watcher(_ environment: SelftestEnvironment) throws(SelftestFailure) -> String {
        try PythonTool.require(environment)
        return try environment.fixture("watch.py") { (environment) throws(SelftestFailure) -> String in
            let path = environment.hostDirectory + "/watch.py"
            try environment.write(path, watch)
            return path
        }
    }

    /// What `watch.py` saw of the tagged processes.
    struct Watch {
        /// Readlink targets of their descriptors (`anon_inode:bpf-map`, …), each once.
        var links: Set<String> = []
        /// Most tagged processes alive at once.
        var processes = 0
        /// Most descriptors one of them held.
        var descriptors = 0
        /// Most resident memory, all of them together (bytes).
        var memory: UInt64 = 0
        /// CPU time they used per second of wall time (1.0: one CPU).
        var cpu = 0.0
        /// Longest time a host probe (spawning /bin/true) took meanwhile (seconds).
        var latency = 0.0
        /// Their cgroup lines (`/proc/PID/cgroup`), each once.
        var cgroups: Set<String> = []
        /// Their net namespaces (`net:[N]`), each once.
        var netns: Set<String> = []
        /// Most descriptors all of them held together at once.
        var totalDescriptors = 0
        /// With `cgroups`: most descriptors held at once by every process of their cgroups (the
        /// root cgroup left out), whether tagged or not.
        var cgroupDescriptors = 0
        /// Highest hard RLIMIT_NOFILE among them (`/proc/PID/limits`).
        var descriptorLimit = 0
        /// Times the host could not open a file meanwhile.
        var hostOpenFailures = 0

        init(_ text: String) {
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ", maxSplits: 1)
                guard parts.count == 2 else { continue }
                let value = String(parts[1])
                switch parts[0] {
                case "link": links.insert(value)
                case "cgroup": cgroups.insert(value)
                case "netns": netns.insert(value)
                case "processes": processes = Int(value) ?? 0
                case "descriptors": descriptors = Int(value) ?? 0
                case "memory": memory = UInt64(value) ?? 0
                case "cpu": cpu = Double(value) ?? 0
                case "latency": latency = Double(value) ?? 0
                case "totalfds": totalDescriptors = Int(value) ?? 0
                case "cgroupfds": cgroupDescriptors = Int(value) ?? 0
                case "nofile": descriptorLimit = Int(value) ?? 0
                case "openfail": hostOpenFailures = Int(value) ?? 0
                default: continue
                }
            }
        }

        var summary: String {
            "processes \(processes), descriptors \(descriptors), memory \(memory / 1_048_576) MiB, cpu \(cpu), probe latency \(latency) s"
        }
    }

    /// Runs `body` while `watch.py` watches the processes tagged `tag` for `seconds`; returns
    /// what it saw (after the watch ended). `cgroups`: it also counts the descriptors of every
    /// process in the tagged processes' cgroups.
    static func watching(
        _ environment: SelftestEnvironment, tag: String, seconds: Int, cgroups: Bool = false, _ body: () throws(SelftestFailure) -> ProcessOutput
    ) throws(SelftestFailure) -> (Watch, ProcessOutput) {
        let script = try watcher(environment)
        // Neither the watcher's command line nor its output's path holds the tag: only the
        // watched processes do.
        let out = environment.hostDirectory + "/watch-" + environment.marker("w")
        let started = try environment.host(
            "WATCH_CGROUPS=\(cgroups ? 1 : 0) WATCH_TAG=\(Shell.quote(tag)) python3 \(Shell.quote(script)) \(Shell.quote(out)) \(seconds) </dev/null >/dev/null 2>&1 & echo started"
        )
        guard started.stdout.contains("started") else { throw SelftestFailure("cannot start the host watcher: \(started.summary)") }
        let output = try body()
        let waited = try environment.host(
            "i=0; while [ ! -f \(Shell.quote(out)) ] && [ $i -lt \(seconds * 10 + 300) ]; do sleep 0.1; i=$((i+1)); done; cat \(Shell.quote(out))",
            timeout: Double(seconds) + 60)
        guard waited.stdout.contains("done") else { throw SelftestFailure("the host watcher did not finish: \(waited.summary)") }
        return (Watch(waited.stdout), output)
    }

    /// Writes `text` to a fresh script `<directory>/.selftest/run-….sh` and returns its name
    /// under `.selftest/`: runs are started as `sh PATH`, so that the tag in the script appears
    /// in the command lines of the processes it starts, never in cordon's or a shell's.
    static func script(_ environment: SelftestEnvironment, in directory: String, _ text: String) throws(SelftestFailure) -> String {
        let name = "run-" + environment.marker("s") + ".sh"
        try environment.write(directory + "/.selftest/" + name, text + "\n")
        return ".selftest/" + name
    }

    /// A pgrep/pkill pattern for `tag` that does not match itself (`[s]elftest-…`), so that the
    /// shell running pgrep, whose command line holds the pattern, is never taken for a tagged
    /// process.
    static func pattern(_ tag: String) -> String {
        guard let first = tag.first else { return tag }
        return "[" + String(first) + "]" + tag.dropFirst()
    }

    /// A fresh tag (a word that appears in no command line unless a run put it there).
    static func tag(_ environment: SelftestEnvironment, _ label: String) -> String {
        environment.marker("selftest-" + label).lowercased()
    }

    static let watch = #"""
        import os, sys, time, subprocess
        out, seconds, tag = sys.argv[1], float(sys.argv[2]), os.environ["WATCH_TAG"].encode()
        links, cgroups, netns = set(), set(), set()
        most = fds = mem = totalfds = cgroupfds = nofile = openfail = 0
        bycgroup = os.environ.get("WATCH_CGROUPS") == "1"

        def procs_of(line):
            # The cgroup.procs of a /proc/PID/cgroup line (v2 "0::/p", v1 "N:pids:/p"); none for the root.
            parts = line.split(":", 2)
            if len(parts) != 3 or parts[2] == "/":
                return None
            if parts[1] == "":
                return "/sys/fs/cgroup" + parts[2] + "/cgroup.procs"
            if parts[1] == "pids":
                return "/sys/fs/cgroup/pids" + parts[2] + "/cgroup.procs"
            return None

        def count_fds(pid):
            try:
                return len(os.listdir("/proc/%s/fd" % pid))
            except OSError:
                return 0
        latency = 0.0
        first, last = {}, {}
        hz = os.sysconf("SC_CLK_TCK")
        end = time.time() + seconds
        probe = 0.0
        seen = quiet = 0
        while time.time() < end:
            alive = 0
            total = 0
            held = 0
            groups = set()
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as f:
                        if tag not in f.read():
                            continue
                    alive += 1
                    names = os.listdir("/proc/%s/fd" % pid)
                    fds = max(fds, len(names))
                    held += len(names)
                    for n in names[:64]:
                        try:
                            t = os.readlink("/proc/%s/fd/%s" % (pid, n))
                            if t.startswith("anon_inode:"):
                                links.add(t)
                        except OSError:
                            pass
                    with open("/proc/%s/status" % pid) as f:
                        for line in f:
                            if line.startswith("VmRSS:"):
                                total += int(line.split()[1]) * 1024
                    with open("/proc/%s/stat" % pid) as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                        ticks = int(fields[11]) + int(fields[12])
                    now = time.time()
                    first.setdefault(pid, (now, ticks))
                    last[pid] = (now, ticks)
                    with open("/proc/%s/cgroup" % pid) as f:
                        for line in f:
                            cgroups.add(line.strip())
                            if bycgroup and procs_of(line.strip()):
                                groups.add(procs_of(line.strip()))
                    with open("/proc/%s/limits" % pid) as f:
                        for line in f:
                            if line.startswith("Max open files"):
                                nofile = max(nofile, int(line.split()[4]))
                    netns.add(os.readlink("/proc/%s/ns/net" % pid))
                except OSError:
                    pass
            most = max(most, alive)
            mem = max(mem, total)
            totalfds = max(totalfds, held)
            for procs in groups:
                try:
                    with open(procs) as f:
                        cgroupfds = max(cgroupfds, sum(count_fds(p.strip()) for p in f if p.strip()))
                except OSError:
                    pass
            # Ended early once the tagged processes have come and gone for a second.
            seen = seen or alive
            quiet = quiet + 1 if seen and not alive else 0
            if quiet > 20:
                break
            if time.time() >= probe:
                t0 = time.time()
                subprocess.run(["/bin/true"])
                try:
                    os.close(os.open("/etc/passwd", os.O_RDONLY))
                except OSError:
                    openfail += 1
                latency = max(latency, time.time() - t0)
                probe = time.time() + 0.5
            time.sleep(0.05)
        cpu = 0.0
        span = 0.0
        used = 0
        for pid, (t0, k0) in first.items():
            t1, k1 = last[pid]
            used += k1 - k0
            span = max(span, t1 - t0)
        if span > 0.5:
            cpu = used / hz / span
        with open(out + ".part", "w") as f:
            for l in sorted(links):
                f.write("link %s\n" % l)
            for c in sorted(cgroups):
                f.write("cgroup %s\n" % c)
            for n in sorted(netns):
                f.write("netns %s\n" % n)
            f.write("processes %d\ndescriptors %d\nmemory %d\ncpu %.3f\nlatency %.3f\n" % (most, fds, mem, cpu, latency))
            f.write("totalfds %d\ncgroupfds %d\nnofile %d\nopenfail %d\ndone x\n" % (totalfds, cgroupfds, nofile, openfail))
        os.rename(out + ".part", out)
        """#

    static let inside = #"""
        import ctypes, os, sys, time, socket, struct, fcntl, termios
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        ARCH = os.uname().machine
        NR = {
            "x86_64": dict(bpf=321, perf_event_open=298, userfaultfd=323, io_uring_setup=425, add_key=248, keyctl=250, kexec_load=246, kexec_file_load=320, init_module=175, finit_module=313, delete_module=176, setns=308),
            "aarch64": dict(bpf=280, perf_event_open=241, userfaultfd=282, io_uring_setup=425, add_key=217, keyctl=219, kexec_load=104, kexec_file_load=294, init_module=105, finit_module=273, delete_module=106, setns=268),
        }[ARCH]

        def call(name, *args):
            r = libc.syscall(NR[name], *args)
            if r < 0:
                print(name, "failed:", os.strerror(ctypes.get_errno()))
            else:
                print(name, "returned", r)
            return r

        def hold(kind):
            held = []
            if kind == "bpf":
                attr = ctypes.create_string_buffer(struct.pack("IIII", 2, 4, 4, 1), 128)
                held.append(call("bpf", 0, attr, 128))
            elif kind == "perf":
                for pid, cpu, excl in ((-1, 0, 0), (1, -1, 0), (0, -1, 1)):
                    attr = ctypes.create_string_buffer(struct.pack("IIQQQQ", 1, 128, 0, 0, 0, (1 << 5) * excl), 128)
                    held.append(call("perf_event_open", attr, ctypes.c_int(pid), ctypes.c_int(cpu), ctypes.c_int(-1), ctypes.c_ulong(0)))
            elif kind == "userfaultfd":
                held.append(call("userfaultfd", os.O_CLOEXEC))
                held.append(call("userfaultfd", os.O_CLOEXEC | 1))
                try:
                    fd = os.open("/dev/userfaultfd", os.O_RDWR)
                    held.append(fcntl.ioctl(fd, 0xAA00, 0))
                except OSError as e:
                    print("/dev/userfaultfd:", e)
            elif kind == "io_uring":
                params = ctypes.create_string_buffer(120)
                held.append(call("io_uring_setup", 4, params))
            time.sleep(float(os.environ.get("HOLD", "3")))

        cmd = sys.argv[1]
        if cmd == "hold":
            hold(sys.argv[2])
        elif cmd == "module":
            # A file that is not a module, by descriptor and as an image; then delete_module of
            # each name given (O_NONBLOCK: a module in use is never waited for).
            import errno
            fd = os.open(sys.argv[2], os.O_RDONLY)
            image = open(sys.argv[2], "rb").read()
            calls = [("finit_module", (fd, b"", 0)), ("init_module", (image, len(image), b""))]
            calls += [("delete_module", (name.encode(), os.O_NONBLOCK)) for name in sys.argv[3:]]
            for name, args in calls:
                r = libc.syscall(NR[name], *args)
                print("answer", name, "ok" if r >= 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno())))
        elif cmd == "kexec":
            # Arguments the kernel refuses only after its permission check: kexec_load with no
            # segment and an undefined flag (0x100), kexec_file_load with no file and an
            # undefined flag (1 << 30). Nothing is ever loaded.
            import errno
            for name, args in (("kexec_load", (ctypes.c_ulong(0), ctypes.c_ulong(0), None, ctypes.c_ulong(0x100))),
                               ("kexec_file_load", (-1, -1, ctypes.c_ulong(0), None, ctypes.c_ulong(1 << 30)))):
                r = libc.syscall(NR[name], *args)
                print("answer", name, "ok" if r >= 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno())))
        elif cmd == "keys":
            # Read every key this process can name: the user and session keyrings' contents,
            # and the key of the given description.
            buf = ctypes.create_string_buffer(65536)
            KEYCTL_READ, KEYCTL_SEARCH, KEYCTL_DESCRIBE = 11, 10, 6
            for ring in (-4, -5, -3, -2, -1):
                n = libc.syscall(NR["keyctl"], KEYCTL_READ, ring, buf, 65536)
                if n < 0:
                    print("keyctl read", ring, "failed:", os.strerror(ctypes.get_errno()))
                    continue
                for i in range(0, min(n, 65536), 4):
                    kid = struct.unpack("i", buf.raw[i:i + 4])[0]
                    m = libc.syscall(NR["keyctl"], KEYCTL_READ, kid, buf, 65536)
                    if m > 0:
                        print("key", kid, buf.raw[:m].decode(errors="replace"))
                kid = libc.syscall(NR["keyctl"], KEYCTL_SEARCH, ring, b"user", sys.argv[2].encode(), 0)
                if kid > 0:
                    m = libc.syscall(NR["keyctl"], KEYCTL_READ, kid, buf, 65536)
                    if m > 0:
                        print("found", buf.raw[:m].decode(errors="replace"))
            try:
                print(open("/proc/keys").read())
            except OSError as e:
                print("/proc/keys:", e)
        elif cmd == "tiocsti":
            fd = os.open("/dev/tty", os.O_RDWR)
            for ch in sys.argv[2] + "\n":
                try:
                    fcntl.ioctl(fd, termios.TIOCSTI, ch.encode())
                except OSError as e:
                    print("TIOCSTI:", e)
                    break
            # TIOCLINUX: set a selection (subcode 2), then paste the selection buffer into the
            # terminal's input (subcode 3, TIOCL_PASTESEL).
            for sub in (2, 3):
                try:
                    fcntl.ioctl(fd, 0x541C, bytes([sub]) + b"\0" * 8)
                except OSError as e:
                    print("TIOCLINUX", sub, ":", e)
        elif cmd == "setns":
            # Every namespace of every visible process, entered, then a write of the target.
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                for ns in ("user", "mnt", "pid", "net", "uts", "ipc", "cgroup"):
                    try:
                        fd = os.open("/proc/%s/ns/%s" % (pid, ns), os.O_RDONLY)
                    except OSError:
                        continue
                    libc.syscall(NR["setns"], fd, 0)
                    os.close(fd)
            try:
                with open(sys.argv[2], "w") as f:
                    f.write("written after setns\n")
            except OSError as e:
                print("write:", e)
        elif cmd == "fds":
            import resource
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[2]), int(sys.argv[2])))
            except (OSError, ValueError) as e:
                print("setrlimit:", e)
            held = []
            try:
                while len(held) < int(sys.argv[2]):
                    held.append(os.open("/dev/null", os.O_RDONLY))
            except OSError as e:
                print("open after", len(held), ":", e)
            time.sleep(float(os.environ.get("HOLD", "3")))
        elif cmd == "fdbomb":
            # fdbomb WORKERS EACH: up to WORKERS processes (fewer when fork fails), each raising
            # its descriptor limit to EACH and opening up to EACH descriptors, held a few seconds.
            import resource
            workers, each = int(sys.argv[2]), int(sys.argv[3])
            for _ in range(workers - 1):
                try:
                    if os.fork() == 0:
                        break
                except OSError as e:
                    print("fork:", e)
                    break
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (each, each))
            except (OSError, ValueError) as e:
                print("setrlimit:", e)
            held = []
            try:
                while len(held) < each:
                    held.append(os.open("/dev/null", os.O_RDONLY))
            except OSError as e:
                print("open after", len(held), ":", e)
            time.sleep(float(os.environ.get("HOLD", "3")))
            try:
                while os.wait():
                    pass
            except ChildProcessError:
                pass
        elif cmd == "memory":
            chunks = []
            try:
                # 16 MiB every 50 ms: a bomb its limit stops still lives long enough (a few
                # samples) for the host's watcher to see it, instead of dying before the first.
                for _ in range(int(sys.argv[2]) // 16):
                    chunks.append(bytearray(b"\1" * (16 << 20)))
                    time.sleep(0.05)
            except MemoryError:
                print("MemoryError after", len(chunks) * 16, "MiB")
            time.sleep(float(os.environ.get("HOLD", "3")))
        elif cmd == "forkbomb":
            end = time.time() + float(sys.argv[2])
            while time.time() < end:
                try:
                    os.fork()
                except OSError:
                    time.sleep(0.05)
            time.sleep(0.2)
        elif cmd == "spin":
            end = time.time() + float(sys.argv[2])
            for _ in range(int(sys.argv[3]) - 1):
                if os.fork() == 0:
                    break
            while time.time() < end:
                pass
        elif cmd == "listen":
            # A TCP listener on every address and an abstract unix socket; what arrives is
            # appended to the file given (the host reads it).
            import select
            out = sys.argv[2]
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind(("0.0.0.0", int(sys.argv[3])))
            tcp.listen(8)
            unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            unix.bind("\0" + sys.argv[4])
            unix.listen(8)
            end = time.time() + float(sys.argv[5])
            while time.time() < end:
                ready, _, _ = select.select([tcp, unix], [], [], 0.2)
                for s in ready:
                    c, _ = s.accept()
                    c.settimeout(2)
                    try:
                        data = c.recv(4096)
                    except OSError:
                        data = b""
                    with open(out, "ab") as f:
                        f.write(data + b"\n")
                    c.close()
        elif cmd == "connect":
            # Sends the word to every TCP address given (HOST:PORT) and abstract socket (@NAME).
            for target in sys.argv[3:]:
                try:
                    if target.startswith("@"):
                        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                        s.settimeout(2)
                        s.connect("\0" + target[1:])
                    else:
                        host, port = target.rsplit(":", 1)
                        s = socket.create_connection((host, int(port)), timeout=2)
                    s.sendall(sys.argv[2].encode())
                    s.close()
                    print("sent to", target)
                except OSError as e:
                    print(target, e)
        """#
}
