import CordonOS
import Glibc

/// The process and kernel attacks: signals and memory reads across the sandbox's edge, entering
/// namespaces, kernel objects (bpf, perf events, userfaultfd, io_uring), keys, kernel logs,
/// kernel settings, the controlling terminal, the sandbox's own cgroup. Each is judged on the
/// host: a host process alive or dead, a host value changed or not, a kernel object the host saw
/// a sandbox process hold, a marker come back.
enum ProcessAttacks {
    static var all: [Attack] {
        [
            signalHostProcess, readHostProcess, readSupervisor, setnsHost, sysctlWrite, nestedUserNamespace, sysfsWrite,
            bpf, perfEvent, userfaultfd, ioUring, keyring, kernelLog, tiocsti, cgroupLimits, signalSupervisor,
        ]
    }

    static let sandbox = "selftest-proc"
    static let pidsLimit = 300
    /// The variable cordon (and so its supervisor) is started with for the supervisor-memory attack.
    static let variable = "CORDON_SELFTEST_SUPERVISOR_CANARY"

    struct Fixture {
        let workspace: String
        /// `inside.py` on the host (for the controls).
        let hostTool: String
        /// The marker in the supervisor's environment.
        let supervisorMarker: String
    }

    /// The shared sandbox (no network, a pids limit) with `inside.py` in its workspace.
    static func get(_ environment: SelftestEnvironment) throws(SelftestFailure) -> Fixture {
        let fixture = try environment.fixture("process") { (environment) throws(SelftestFailure) -> Fixture in
            let workspace = try environment.workspace("proc")
            _ = try ProcessTools.installInside(in: workspace, environment)
            let hostTool = try ProcessTools.installInside(in: environment.hostDirectory, environment)
            return Fixture(workspace: workspace, hostTool: hostTool, supervisorMarker: environment.marker())
        }
        _ = try environment.shared(sandbox) { (environment) throws(SelftestFailure) in
            let profile = try environment.profile(sandbox, "name: \(sandbox)\nnetwork: none\nresources: {pids: \(pidsLimit)}\n")
            environment.setEnvironment(variable, fixture.supervisorMarker)
            defer { environment.setEnvironment(variable, "") }
            try environment.up(sandbox, profile: profile, workspace: fixture.workspace)
        }
        return fixture
    }

    static let tool = "/workspace/.selftest/inside.py"

    // MARK: - Host processes and the supervisor

    /// Starts a host process (`sleep`) whose command line carries a fresh tag and whose
    /// environment holds `secret`; returns its pid (killed at cleanup).
    static func hostProcess(_ environment: SelftestEnvironment, secret: String = "") throws(SelftestFailure) -> Int32 {
        let tag = ProcessTools.tag(environment, "canary")
        let started = try environment.host(
            "env SELFTEST_SECRET=\(Shell.quote(secret)) sh -c 'exec sleep 600' \(tag) </dev/null >/dev/null 2>&1 & echo $!")
        guard let pid = Int32(started.stdout.trimming("\n")), pid > 0 else { throw SelftestFailure("cannot start a host process: \(started.summary)") }
        environment.atCleanup { _ = kill(pid, SIGKILL) }
        // Wait until it has exec'd (its environment and command line are in place).
        _ = try environment.host("i=0; while ! grep -q sleep /proc/\(pid)/comm 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done")
        return pid
    }

    /// Whether `pid` is a live process (not gone, not a zombie), as the host sees it.
    static func alive(_ pid: Int32) -> Bool {
        guard let bytes = try? FileIO.readFile("/proc/\(pid)/stat", limit: 4096) else { return false }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return false }
        let state = text[text.index(after: close)...].split(separator: " ").first ?? ""
        return state != "Z" && state != "X"
    }

    static func deathObservation(_ pid: Int32, _ what: String, _ output: ProcessOutput) -> Observation {
        var waited = 0
        while alive(pid) && waited < 20 {
            usleep(100_000)
            waited += 1
        }
        return alive(pid)
            ? .failed("\(what): the host process \(pid) is alive (\(output.summary))") : .succeeded("\(what): the host process \(pid) was killed")
    }

    static func killScript(_ pid: Int32) -> String {
        """
        kill -KILL \(pid) 2>&1; kill -TERM \(pid) 2>&1
        python3 -c 'import os,signal
        for p in (\(pid), -\(pid)):
            try: os.kill(p, signal.SIGKILL)
            except OSError as e: print(p, e)' 2>&1
        echo done
        """
    }

    static let signalHostProcess = Attack(
        id: "proc.signal-host-process", category: .process,
        description: "kill a host process by its host pid (kill(2) of the pid and of its group)",
        defence: "pid namespace: no host pid can be named from inside",
        control: "on the host, the same kill ends the host process",
        runControl: { (environment) throws(SelftestFailure) in
            let pid = try hostProcess(environment)
            return deathObservation(pid, "host kill", try environment.host("kill -KILL \(pid)"))
        },
        runAttack: { (environment) throws(SelftestFailure) in
            _ = try get(environment)
            let pid = try hostProcess(environment)
            let output = try environment.exec(sandbox, killScript(pid))
            defer { _ = kill(pid, SIGKILL) }
            return deathObservation(pid, "sandbox kill", output)
        })

    /// Reads a process's environment through /proc/PID/environ and through its memory
    /// (/proc/PID/mem at the environment's addresses), and tries PTRACE_ATTACH.
    static func memoryScript(_ pid: Int32) -> String {
        """
        tr '\\0' '\\n' < /proc/\(pid)/environ 2>&1
        python3 - \(pid) <<'EOF' 2>&1
        import ctypes, sys
        pid = sys.argv[1]
        try:
            fields = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
            start, end = int(fields[48]), int(fields[49])
            with open("/proc/%s/mem" % pid, "rb") as m:
                m.seek(start)
                print(m.read(end - start).replace(b"\\0", b"\\n").decode(errors="replace"))
        except (OSError, IndexError, ValueError) as e:
            print("mem:", e)
        libc = ctypes.CDLL(None, use_errno=True)
        # PTRACE_SEIZE, not PTRACE_ATTACH: proves the same permission without stopping the
        # process (an attach's SIGSTOP outlived the tracer and froze the host control's target).
        seized = libc.ptrace(0x4206, int(pid), None, None)
        print("ptrace seize:", seized, ctypes.get_errno())
        if seized == 0:
            libc.ptrace(17, int(pid), None, None)
        EOF
        echo done
        """
    }

    static let readHostProcess = Attack(
        id: "proc.read-host-process-memory", category: .process,
        description: "read a host process's memory and environment (/proc/PID/mem, /proc/PID/environ, ptrace)",
        defence: "pid namespace; seccomp denies ptrace and process_vm_readv",
        control: "on the host, the same reads show the secret in the process's environment",
        runControl: { (environment) throws(SelftestFailure) in
            let secret = try environment.fixture("host-process-secret") { (environment) throws(SelftestFailure) in environment.marker() }
            let pid = try hostProcess(environment, secret: secret)
            defer { _ = kill(pid, SIGKILL) }
            return Observation.markerSeen(secret, in: try environment.host(memoryScript(pid)), what: "host read of the process's memory")
        },
        runAttack: { (environment) throws(SelftestFailure) in
            _ = try get(environment)
            let secret = try environment.fixture("host-process-secret") { (environment) throws(SelftestFailure) in environment.marker() }
            let pid = try hostProcess(environment, secret: secret)
            defer { _ = kill(pid, SIGKILL) }
            return Observation.markerSeen(secret, in: try environment.exec(sandbox, memoryScript(pid)), what: "sandbox read of the process's memory")
        })

    /// The host pid of sandbox `name`'s supervisor.
    static func supervisor(_ environment: SelftestEnvironment, _ name: String) throws(SelftestFailure) -> Int32 {
        // `[_]` so that the pattern does not match the shell that runs pgrep; the workspace
        // under this run's root tells this run's sandbox from another's of the same name.
        let found = try environment.host("pgrep -f -- \(Shell.quote("[_]_supervise --name \(name) --workspace \(environment.root)/"))")
        let pids = found.stdout.split(separator: "\n").compactMap { Int32($0) }
        guard pids.count == 1, let pid = pids.first else { throw SelftestFailure("cannot find the supervisor of \(name) (pgrep: \(found.stdout))") }
        return pid
    }

    static let victim = "selftest-proc-victim"

    static let signalSupervisor = Attack(
        id: "proc.signal-supervisor", category: .process,
        description: "kill the sandbox's own supervisor (its host pid, its process group)",
        defence: "pid namespace: the supervisor is outside it; the agent's user namespace owns none of its credentials",
        control: "on the host, the same kill ends a sandbox's supervisor",
        runControl: { (environment) throws(SelftestFailure) in
            let fixture = try get(environment)
            let profile = try environment.profile(victim, "name: \(victim)\nnetwork: none\n")
            try environment.up(victim, profile: profile, workspace: fixture.workspace)
            defer { environment.remove(victim) }
            let pid = try supervisor(environment, victim)
            return deathObservation(pid, "host kill of the supervisor", try environment.host("kill -KILL \(pid)"))
        },
        runAttack: { (environment) throws(SelftestFailure) in
            _ = try get(environment)
            let pid = try supervisor(environment, sandbox)
            return deathObservation(pid, "sandbox kill of its supervisor", try environment.exec(sandbox, killScript(pid)))
        })

    static let readSupervisor = Attack(
        id: "proc.read-supervisor-memory", category: .process,
        description: "read the supervisor's memory and environment (/proc/PID/mem, /proc/PID/environ, ptrace)",
        defence: "pid namespace; seccomp denies ptrace and process_vm_readv",
        control: "on the host, the same reads show the variable the supervisor was started with",
        runControl: { (environment) throws(SelftestFailure) in
            let fixture = try get(environment)
            let pid = try supervisor(environment, sandbox)
            return Observation.markerSeen(fixture.supervisorMarker, in: try environment.host(memoryScript(pid)), what: "host read of the supervisor")
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let fixture = try get(environment)
            let pid = try supervisor(environment, sandbox)
            return Observation.markerSeen(
                fixture.supervisorMarker, in: try environment.exec(sandbox, memoryScript(pid)), what: "sandbox read of the supervisor")
        })

    // MARK: - Namespaces and kernel settings

    static func setnsTarget(_ environment: SelftestEnvironment) throws(SelftestFailure) -> CanaryFile {
        try environment.fixture("setns-target") { (environment) throws(SelftestFailure) in
            try CanaryFile(environment, at: environment.hostDirectory + "/setns-target.txt")
        }
    }

    static let setnsHost = Attack(
        id: "proc.setns-host", category: .process,
        description: "enter a host process's namespaces (setns on every /proc/*/ns/*, nsenter -t HOSTPID -a, -t 1) and write a host file",
        defence: "seccomp denies setns; pid namespace: no host process's namespaces are visible",
        control: "on the host, nsenter into the host process's namespaces writes the file",
        controlNeedsRoot: "enters the namespaces of a host process, which belong to the host's user namespace",
        runControl: { (environment) throws(SelftestFailure) in
            let target = try setnsTarget(environment)
            defer { try? target.reset(environment) }
            let pid = try hostProcess(environment)
            defer { _ = kill(pid, SIGKILL) }
            let output = try environment.host(
                "nsenter -t \(pid) -m -u -i -n -p sh -c 'echo control > \"$1\"' sh \(Shell.quote(target.path))")
            return target.writeObservation("host nsenter", output)
        },
        runAttack: { (environment) throws(SelftestFailure) in
            _ = try get(environment)
            let target = try setnsTarget(environment)
            let path = Shell.quote(target.path)
            let pid = try hostProcess(environment)
            defer { _ = kill(pid, SIGKILL) }
            let output = try environment.exec(
                sandbox,
                """
                python3 \(tool) setns \(path) 2>&1
                nsenter -t \(pid) -a sh -c 'echo x > "$1"' sh \(path) 2>&1
                nsenter -t 1 -a sh -c 'echo x > "$1"' sh \(path) 2>&1
                for p in /proc/[0-9]*; do nsenter --mount=$p/ns/mnt --user=$p/ns/user sh -c 'echo x > "$1"' sh \(path) 2>/dev/null; done
                echo done
                """)
            return target.writeObservation("sandbox setns", output)
        })

    /// A global kernel setting (not namespaced, harmless to change for a moment): its path and
    /// value now.
    static let sysctl = "/proc/sys/fs/lease-break-time"

    static func hostValue(_ path: String) -> String {
        (try? FileIO.readFile(path, limit: 4096)).map { String(decoding: $0, as: UTF8.self).trimming("\n") } ?? ""
    }

    /// Runs `body` with the setting's value noted, observes whether it changed, and puts it back.
    static func settingObservation(
        _ environment: SelftestEnvironment, _ path: String, _ what: String, _ body: (String) throws(SelftestFailure) -> ProcessOutput
    ) throws(SelftestFailure) -> Observation {
        let before = hostValue(path)
        guard let number = Int(before) else { throw SelftestFailure("cannot read \(path) on the host (\"\(before)\")") }
        let wanted = String(number + 7)
        let output = try body(wanted)
        let after = hostValue(path)
        if after != before {
            _ = try? environment.host("echo \(before) > \(path)")
            return .succeeded("\(what): the host's \(path) changed from \(before) to \(after)")
        }
        return .failed("\(what): the host's \(path) is unchanged (\(before)) (\(output.summary))")
    }

    static let sysctlWrite = Attack(
        id: "proc.sysctl-write", category: .process,
        description: "write a global kernel setting through /proc/sys (echo, sysctl -w)",
        defence: "/proc/sys read-only in the sandbox; the agent's user namespace owns no global setting",
        control: "on the host, the same write changes the setting (then it is put back)",
        controlNeedsRoot: "writes a host sysctl",
        runControl: { (environment) throws(SelftestFailure) in
            try settingObservation(environment, sysctl, "host write") { (value) throws(SelftestFailure) in
                try environment.host("echo \(value) > \(sysctl)")
            }
        },
        runAttack: { (environment) throws(SelftestFailure) in
            _ = try get(environment)
            return try settingObservation(environment, sysctl, "sandbox write") { (value) throws(SelftestFailure) in
                try environment.exec(sandbox, "echo \(value) > \(sysctl) 2>&1; sysctl -w fs.lease-break-time=\(value) 2>&1; echo done")
            }
        })

    static let nestedUserNamespace = Attack(
        id: "proc.nested-userns-mount", category: .process,
        description: "make a nested user namespace, mount a fresh proc there and write a global kernel setting through it",
        defence: "seccomp denies unshare/clone of namespaces; proc's global settings belong to the host's user namespace",
        control: "on the host, a new mount namespace with a fresh proc mount writes the setting",
        controlNeedsRoot: "writes a host sysctl through a fresh proc mount",
        runControl: { (environment) throws(SelftestFailure) in
            let mountPoint = environment.hostDirectory + "/proc-mount"
            try environment.write(mountPoint + "/.keep", "")
            return try settingObservation(environment, sysctl, "host fresh proc") { (value) throws(SelftestFailure) in
                try environment.host(
                    "unshare -m sh -c 'mount -t proc proc \"$1\" && echo \(value) > \"$1/sys/fs/lease-break-time\"' sh \(Shell.quote(mountPoint))")
            }
        },
        runAttack: { (environment) throws(SelftestFailure) in
            _ = try get(environment)
            return try settingObservation(environment, sysctl, "sandbox nested namespace") { (value) throws(SelftestFailure) in
                try environment.exec(
                    sandbox,
                    """
                    for flags in -Urm -Urmpf -rm; do
                      unshare $flags --mount-proc sh -c 'echo \(value) > /proc/sys/fs/lease-break-time; mkdir -p /tmp/p; mount -t proc proc /tmp/p && echo \(value) > /tmp/p/sys/fs/lease-break-time' 2>&1
                    done
                    echo done
                    """)
            }
        })

    static let sysfsKnob = "/sys/kernel/mm/transparent_hugepage/khugepaged/scan_sleep_millisecs"

    static let sysfsWrite = Attack(
        id: "proc.sysfs-write", category: .process,
        description: "write a global kernel setting through /sys (directly, and through a sysfs mounted in a nested namespace)",
        defence: "no /sys in the sandbox; seccomp denies new namespaces; sysfs belongs to the host's user namespace",
        control: "on the host, the same write changes the setting (then it is put back)",
        controlNeedsRoot: "writes a host setting in /sys",
        runControl: { (environment) throws(SelftestFailure) in
            guard FileIO.kind(sysfsKnob) == .file else { throw SelftestFailure("this host has no \(sysfsKnob)") }
            return try settingObservation(environment, sysfsKnob, "host write") { (value) throws(SelftestFailure) in
                try environment.host("echo \(value) > \(sysfsKnob)")
            }
        },
        runAttack: { (environment) throws(SelftestFailure) in
            _ = try get(environment)
            return try settingObservation(environment, sysfsKnob, "sandbox write") { (value) throws(SelftestFailure) in
                try environment.exec(
                    sandbox,
                    """
                    echo \(value) > \(sysfsKnob) 2>&1
                    mkdir -p /tmp/s; mount -t sysfs sysfs /tmp/s 2>&1 && echo \(value) > /tmp/s/kernel/mm/transparent_hugepage/khugepaged/scan_sleep_millisecs
                    unshare -Urmn sh -c 'mkdir -p /tmp/s2; mount -t sysfs sysfs /tmp/s2 && echo \(value) > /tmp/s2/kernel/mm/transparent_hugepage/khugepaged/scan_sleep_millisecs' 2>&1
                    echo done
                    """)
            }
        })

    // MARK: - Kernel objects

    /// An attack that makes a kernel object and holds it for a few seconds; the host sees it
    /// among the process's descriptors (`anon_inode:…`), or not.
    static func kernelObject(id: String, kind: String, link: String, description: String, defence: String, needsRoot: String? = nil) -> Attack {
        Attack(
            id: id, category: .process, description: description, defence: defence,
            control: "on the host as root, the same calls make the object and the host sees it held", controlNeedsRoot: needsRoot,
            runControl: { (environment) throws(SelftestFailure) in
                let fixture = try get(environment)
                let tag = ProcessTools.tag(environment, kind)
                let (watch, output) = try ProcessTools.watching(environment, tag: tag, seconds: 8) { () throws(SelftestFailure) in
                    let script = try ProcessTools.script(
                        environment, in: environment.hostDirectory, "HOLD=3 python3 \(Shell.quote(fixture.hostTool)) hold \(kind) \(tag)")
                    return try environment.host("sh " + Shell.quote(environment.hostDirectory + "/" + script))
                }
                return try objectObservation(watch, link, "host", output)
            },
            runAttack: { (environment) throws(SelftestFailure) in
                let fixture = try get(environment)
                let tag = ProcessTools.tag(environment, kind)
                let script = try ProcessTools.script(environment, in: fixture.workspace, "HOLD=3 python3 \(tool) hold \(kind) \(tag) 2>&1")
                let (watch, output) = try ProcessTools.watching(environment, tag: tag, seconds: 10) { () throws(SelftestFailure) in
                    try environment.exec(sandbox, "sh /workspace/" + script)
                }
                return try objectObservation(watch, link, "sandbox", output)
            })
    }

    /// A run whose process the host never saw proves nothing: it could not be made.
    static func objectObservation(_ watch: ProcessTools.Watch, _ link: String, _ what: String, _ output: ProcessOutput) throws(SelftestFailure)
        -> Observation
    {
        if let held = watch.links.first(where: { $0.contains(link) }) {
            return .succeeded("\(what): the host saw the process hold \(held)")
        }
        guard watch.processes > 0 else { throw SelftestFailure("\(what): the host never saw the process (\(output.summary))") }
        return .failed("\(what): the host saw the process hold no \(link) (\(output.summary))")
    }

    static let bpf = kernelObject(
        id: "proc.bpf", kind: "bpf", link: "bpf-map", description: "create a bpf map (bpf(BPF_MAP_CREATE))",
        defence: "seccomp denies bpf; no CAP_BPF in the host's user namespace", needsRoot: "makes a bpf map, which takes CAP_BPF on this host")
    static let perfEvent = kernelObject(
        id: "proc.perf-event-open", kind: "perf", link: "perf_event",
        description: "open a perf event (system-wide, on pid 1, on itself: perf_event_open)", defence: "seccomp denies perf_event_open",
        needsRoot: "opens a perf event, which perf_event_paranoid reserves to root on this host")
    static let userfaultfd = kernelObject(
        id: "proc.userfaultfd", kind: "userfaultfd", link: "userfaultfd",
        description: "make a userfaultfd (the syscall, user-mode only, /dev/userfaultfd)",
        defence: "seccomp denies userfaultfd; /dev/userfaultfd is not in the sandbox's /dev")
    static let ioUring = kernelObject(
        id: "proc.io-uring", kind: "io_uring", link: "io_uring", description: "set up an io_uring (io_uring_setup)",
        defence: "seccomp denies io_uring_setup, io_uring_enter and io_uring_register")

    // MARK: - Keys, kernel log, terminal, cgroup

    /// A key holding a marker in the host user's keyring (revoked at cleanup): description and marker.
    static func hostKey(_ environment: SelftestEnvironment) throws(SelftestFailure) -> (String, String) {
        _ = try get(environment)
        return try environment.fixture("host-key") { (environment) throws(SelftestFailure) -> (String, String) in
            let description = ProcessTools.tag(environment, "key")
            let marker = environment.marker()
            let added = try environment.host(
                """
                python3 -c 'import ctypes, sys
                l = ctypes.CDLL(None, use_errno=True); l.syscall.restype = ctypes.c_long
                nr = {"x86_64": 248, "aarch64": 217}[__import__("os").uname().machine]
                v = sys.argv[2].encode()
                print(l.syscall(nr, b"user", sys.argv[1].encode(), v, len(v), ctypes.c_long(-4)))' \(description) \(marker)
                """)
            guard let id = Int(added.stdout.trimming("\n")), id > 0 else {
                throw SelftestFailure("cannot add a key to the host user's keyring: \(added.summary) \(added.stdout)")
            }
            // Revoked and unlinked from the user's keyring at cleanup.
            let forget = """
                import ctypes, os
                l = ctypes.CDLL(None)
                nr = {"x86_64": 250, "aarch64": 219}[os.uname().machine]
                l.syscall(nr, 3, \(id))
                l.syscall(nr, 9, \(id), -4)
                """
            let env = environment.environment
            environment.atCleanup { _ = try? ProcessRun.run(["/bin/sh", "-c", "python3 -c " + Shell.quote(forget)], environment: env, timeout: 30) }
            return (description, marker)
        }
    }

    static let keyring = Attack(
        id: "proc.keyctl-host-keyring", category: .process,
        description: "read a key in the host user's keyring (keyctl read of the user and session keyrings, search by name, /proc/keys)",
        defence: "seccomp denies keyctl, add_key and request_key; the agent's uid is not the host user's",
        control: "on the host, the same reads show the key's value",
        runControl: { (environment) throws(SelftestFailure) in
            let fixture = try get(environment)
            let (description, marker) = try hostKey(environment)
            return Observation.markerSeen(
                marker, in: try environment.host("python3 \(Shell.quote(fixture.hostTool)) keys \(description)"), what: "host keyring read")
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let (description, marker) = try hostKey(environment)
            return Observation.markerSeen(
                marker, in: try environment.exec(sandbox, "python3 \(tool) keys \(description) 2>&1"), what: "sandbox keyring read")
        })

    static let kernelLog = Attack(
        id: "proc.kernel-log", category: .process,
        description: "read the kernel log (dmesg, /dev/kmsg, syslog(2)) for a line the host wrote there",
        defence: "no /dev/kmsg in the sandbox; syslog(2) needs CAP_SYSLOG in the host's user namespace (seccomp denies it too)",
        control: "on the host, dmesg shows the line",
        controlNeedsRoot: "writes the host's kernel log (/dev/kmsg)",
        runControl: { (environment) throws(SelftestFailure) in
            let marker = try kmsgMarker(environment)
            return Observation.markerSeen(marker, in: try environment.host("dmesg 2>&1 | tail -n 2000"), what: "host dmesg")
        },
        runAttack: { (environment) throws(SelftestFailure) in
            _ = try get(environment)
            let marker = try kmsgMarker(environment)
            let output = try environment.exec(
                sandbox,
                """
                dmesg 2>&1 | tail -n 2000
                timeout 2 cat /dev/kmsg 2>&1 | tail -n 2000
                python3 -c 'import ctypes; l = ctypes.CDLL(None, use_errno=True); b = ctypes.create_string_buffer(1 << 20); n = l.klogctl(3, b, 1 << 20); print(b.raw[:max(n, 0)].decode(errors="replace"), ctypes.get_errno())' 2>&1 | tail -n 2000
                echo done
                """)
            return Observation.markerSeen(marker, in: output, what: "sandbox kernel log read")
        })

    /// A marker written to the kernel log on the host (once).
    static func kmsgMarker(_ environment: SelftestEnvironment) throws(SelftestFailure) -> String {
        try environment.fixture("kmsg") { (environment) throws(SelftestFailure) -> String in
            let marker = environment.marker()
            let wrote = try environment.host("echo \"cordon selftest \(marker)\" > /dev/kmsg")
            guard wrote.status == 0 else { throw SelftestFailure("cannot write to the host's /dev/kmsg: \(wrote.summary)") }
            return marker
        }
    }

    /// Runs ARGV on a new pty whose controlling terminal it is; prints, after it ended, what is
    /// waiting in the terminal's input (what the next reader of the user's terminal would get).
    static let ptyHarness = #"""
        import os, sys, pty, fcntl, termios, select, time
        master, slave = pty.openpty()
        pid = os.fork()
        if pid == 0:
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            for fd in (0, 1, 2):
                os.dup2(slave, fd)
            os.close(master)
            os.execvp(sys.argv[1], sys.argv[1:])
        end = time.time() + 90
        done = False
        while time.time() < end and not done:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    os.read(master, 65536)
                except OSError:
                    pass
            done = os.waitpid(pid, os.WNOHANG)[0] != 0
        if not done:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        fcntl.fcntl(slave, fcntl.F_SETFL, os.O_NONBLOCK)
        attrs = termios.tcgetattr(slave)
        attrs[3] &= ~termios.ICANON
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        try:
            print("INPUT:", repr(os.read(slave, 65536)))
        except OSError as e:
            print("INPUT: none", e)
        """#

    static let tiocsti = Attack(
        id: "proc.tiocsti-injection", category: .process,
        description: "push a command into the user's terminal input (TIOCSTI; TIOCLINUX paste) from cordon exec run on that terminal",
        defence: "the sandbox gets its own pty, relayed; seccomp denies TIOCSTI and TIOCLINUX",
        control: "on the host, the same ioctl from a process on the terminal puts the text in its input",
        runControl: { (environment) throws(SelftestFailure) in
            let fixture = try get(environment)
            let harness = try ptyHarnessPath(environment)
            let word = ProcessTools.tag(environment, "injected")
            let output = try environment.host("python3 \(Shell.quote(harness)) python3 \(Shell.quote(fixture.hostTool)) tiocsti \(word)")
            return injectionObservation(word, "host", output)
        },
        runAttack: { (environment) throws(SelftestFailure) in
            _ = try get(environment)
            let harness = try ptyHarnessPath(environment)
            let word = ProcessTools.tag(environment, "injected")
            let output = try environment.host(
                "python3 \(Shell.quote(harness)) \(Shell.quote(environment.cordon)) exec \(sandbox) -- python3 \(tool) tiocsti \(word)", timeout: 120)
            return injectionObservation(word, "sandbox", output)
        })

    static func ptyHarnessPath(_ environment: SelftestEnvironment) throws(SelftestFailure) -> String {
        try environment.fixture("terminal.py") { (environment) throws(SelftestFailure) -> String in
            let path = environment.hostDirectory + "/terminal.py"
            try environment.write(path, ptyHarness)
            return path
        }
    }

    static func injectionObservation(_ word: String, _ what: String, _ output: ProcessOutput) -> Observation {
        let input = output.stdout.split(separator: "\n").filter { $0.hasPrefix("INPUT:") }.joined()
        guard !input.isEmpty else { return .failed("\(what): the terminal's input could not be read (\(output.summary))") }
        return input.contains(word)
            ? .succeeded("\(what): the injected text is waiting in the terminal's input") : .failed("\(what): nothing injected into the terminal's input")
    }

    /// The host directory of sandbox `name`'s pids cgroup (v1 or v2), from the cgroup of its
    /// supervisor's children.
    static func pidsCgroup(_ environment: SelftestEnvironment, _ name: String) throws(SelftestFailure) -> String {
        let pid = try supervisor(environment, name)
        let found = try environment.host(
            """
            for c in $(pgrep -P \(pid)); do
              p=$(grep -E '^[0-9]+:pids:' /proc/$c/cgroup | cut -d: -f3-)
              [ -n "$p" ] && [ "$p" != / ] && [ -f "/sys/fs/cgroup/pids$p/pids.max" ] && { echo "/sys/fs/cgroup/pids$p"; exit 0; }
              p=$(grep -E '^0::' /proc/$c/cgroup | cut -d: -f3-)
              [ -n "$p" ] && [ "$p" != / ] && [ -f "/sys/fs/cgroup$p/pids.max" ] && { echo "/sys/fs/cgroup$p"; exit 0; }
            done
            exit 1
            """)
        guard found.status == 0, let dir = found.stdout.split(separator: "\n").first.map(String.init) else {
            throw SelftestFailure("cannot find the pids cgroup of \(name) on the host (\(found.summary))")
        }
        return dir
    }

    static let cgroupLimits = Attack(
        id: "proc.cgroup-escape", category: .process,
        description:
            "raise the sandbox's own cgroup limits (through any cgroupfs it finds or mounts, also in a nested namespace; it also tries to move into a parent cgroup)",
        defence: "no cgroupfs in the sandbox; cgroup namespace; seccomp denies new namespaces; the cgroup files belong to the host's root",
        control: "on the host, the same write raises the sandbox cgroup's pids.max (then it is put back)",
        controlNeedsRoot: "finds and writes the sandbox's cgroup, which an ordinary user has only with cgroup delegation",
        runControl: { (environment) throws(SelftestFailure) in
            _ = try get(environment)
            let dir = try pidsCgroup(environment, sandbox)
            return try settingObservation(environment, dir + "/pids.max", "host write") { (value) throws(SelftestFailure) in
                try environment.host("echo \(value) > \(Shell.quote(dir + "/pids.max"))")
            }
        },
        runAttack: { (environment) throws(SelftestFailure) in
            _ = try get(environment)
            let dir = try pidsCgroup(environment, sandbox)
            return try settingObservation(environment, dir + "/pids.max", "sandbox write") { (value) throws(SelftestFailure) in
                try environment.exec(
                    sandbox,
                    """
                    for f in $(find /sys/fs/cgroup -name pids.max -o -name memory.max -o -name memory.limit_in_bytes -o -name cpu.max 2>/dev/null); do echo max > "$f"; done 2>&1
                    for f in $(find /sys/fs/cgroup -name cgroup.procs 2>/dev/null); do echo $$ > "$f"; done 2>&1
                    mkdir -p /tmp/cg; mount -t cgroup2 none /tmp/cg 2>&1 && { echo \(value) > /tmp/cg/pids.max; echo $$ > /tmp/cg/cgroup.procs; }
                    mount -t cgroup -o pids none /tmp/cg 2>&1 && { echo \(value) > /tmp/cg/pids.max; echo $$ > /tmp/cg/cgroup.procs; }
                    unshare -UrmC sh -c 'mount -t cgroup2 none /tmp/cg && echo $$ > /tmp/cg/cgroup.procs' 2>&1
                    echo done
                    """)
            }
        })
}
