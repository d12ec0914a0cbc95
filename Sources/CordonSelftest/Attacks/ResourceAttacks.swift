import CordonOS
import Glibc

/// The resource attacks: each runs a bounded load (a few seconds) in a sandbox with a tight
/// limit while the host watches the tagged processes (their number, memory, descriptors, CPU
/// time) and the time a host probe takes; the control runs the same load where the limit is
/// absent or looser (a sandbox with a larger limit, or the host as root) and must exceed the
/// tight limit, which proves the load is real and the host can see it.
enum ResourceAttacks {
    // `fdExhaustion` is left out of the list: its control (root raising its own hard limit) fails
    // where root lacks CAP_SYS_RESOURCE over the host (a container), so it would be invalid there.
    static var all: [Attack] { [forkBomb, pidExhaustion, memoryBomb, cpuSpin, diskFill, inodeExhaustion, supervisorKill] }

    /// The longest a host probe may take during an attack (seconds) before the host counts as
    /// unresponsive.
    static let latencyBound = 2.0

    struct Fixture {
        let workspace: String
        let hostTool: String
    }

    static func get(_ environment: SelftestEnvironment) throws(SelftestFailure) -> Fixture {
        try environment.fixture("resources") { (environment) throws(SelftestFailure) -> Fixture in
            let workspace = try environment.workspace("res")
            _ = try ProcessTools.installInside(in: workspace, environment)
            return Fixture(workspace: workspace, hostTool: try ProcessTools.installInside(in: environment.hostDirectory, environment))
        }
    }

    static let tool = ProcessAttacks.tool

    /// A one-shot sandbox with `resources` running `script` (TAG replaced by a fresh tag) while
    /// the host watches.
    static func load(
        _ environment: SelftestEnvironment, _ name: String, resources: String, seconds: Int, _ script: (String) -> String
    ) throws(SelftestFailure) -> (ProcessTools.Watch, ProcessOutput) {
        let fixture = try get(environment)
        let tag = ProcessTools.tag(environment, "load")
        let profile = try environment.profile(name, "name: \(name)\nnetwork: none\nresources: {\(resources)}\n")
        let file = try ProcessTools.script(environment, in: fixture.workspace, script(tag))
        let result = try ProcessTools.watching(environment, tag: tag, seconds: seconds) { () throws(SelftestFailure) in
            try environment.run(name, profile: profile, workspace: fixture.workspace, "sh /workspace/" + file, timeout: 90)
        }
        environment.remove(name)
        return result
    }

    /// An observation that succeeds when `exceeded` or the host probe was slow; a load the host
    /// never saw proves nothing (the run could not be made).
    static func limitObservation(_ watch: ProcessTools.Watch, _ exceeded: Bool, _ what: String) throws(SelftestFailure) -> Observation {
        if exceeded { return .succeeded("\(what): over the limit (\(watch.summary))") }
        if watch.latency > latencyBound { return .succeeded("\(what): the host was unresponsive (\(watch.summary))") }
        if watch.processes == 0 { throw SelftestFailure("\(what): the host never saw the load (\(watch.summary))") }
        return .failed("\(what): within the limit, the host responsive (\(watch.summary))")
    }

    static let forkBomb = Attack(
        id: "res.fork-bomb", category: .resources,
        description: "a fork bomb (every process forks until fork fails) for 4 s in a sandbox limited to 64 processes",
        defence: "the cgroup's pids limit (resources.pids)",
        control: "the same bomb in a sandbox limited to 512 processes has more than 64 at once",
        runControl: { (environment) throws(SelftestFailure) in
            let (watch, _) = try load(environment, "selftest-res-fork-control", resources: "pids: 512", seconds: 12) {
                "python3 \(tool) forkbomb 4 \($0) 2>/dev/null; echo done"
            }
            return watch.processes > 64 ? .succeeded("more than 64 processes (\(watch.summary))") : .failed("at most 64 processes (\(watch.summary))")
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let (watch, _) = try load(environment, "selftest-res-fork", resources: "pids: 64", seconds: 12) {
                "python3 \(tool) forkbomb 4 \($0) 2>/dev/null; echo done"
            }
            return try limitObservation(watch, watch.processes > 64, "fork bomb")
        })

    static func sleepers(_ count: Int) -> (String) -> String {
        { tag in "i=0; while [ $i -lt \(count) ]; do sh -c 'sleep 15; :' \(tag) 2>/dev/null & i=$((i+1)); done; wait; echo done" }
    }

    static let pidExhaustion = Attack(
        id: "res.pid-exhaustion", category: .resources,
        description: "start 1500 long-lived processes under the default profile (pid exhaustion)",
        defence: "the cgroup's pids limit, 1024 by default (resources.pids)",
        control: "the same in a sandbox limited to 4096 processes has more than 1024 at once",
        runControl: { (environment) throws(SelftestFailure) in
            let (watch, _) = try load(environment, "selftest-res-pids-control", resources: "pids: 4096", seconds: 30, sleepers(1500))
            return watch.processes > 1024 ? .succeeded("more than 1024 processes (\(watch.summary))") : .failed("at most 1024 (\(watch.summary))")
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let (watch, _) = try load(environment, "selftest-res-pids", resources: "", seconds: 30, sleepers(1500))
            return try limitObservation(watch, watch.processes > 1024, "pid exhaustion")
        })

    static let memoryLimit: UInt64 = 128 << 20

    static let memoryBomb = Attack(
        id: "res.memory-bomb", category: .resources,
        description: "allocate and touch 384 MiB in a sandbox limited to 128 MiB",
        defence: "the cgroup's memory limit (resources.memory), swap included",
        control: "the same in a sandbox limited to 1 GiB holds more than 160 MiB",
        runControl: { (environment) throws(SelftestFailure) in
            let (watch, _) = try load(environment, "selftest-res-mem-control", resources: "memory: 1g", seconds: 12) {
                "HOLD=3 python3 \(tool) memory 384 \($0) 2>&1; echo done"
            }
            return watch.memory > memoryLimit + (32 << 20)
                ? .succeeded("more than 160 MiB resident (\(watch.summary))") : .failed("at most 160 MiB (\(watch.summary))")
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let (watch, _) = try load(environment, "selftest-res-mem", resources: "memory: 128m", seconds: 12) {
                "HOLD=3 python3 \(tool) memory 384 \($0) 2>&1; echo done"
            }
            return try limitObservation(watch, watch.memory > memoryLimit + (32 << 20), "memory bomb")
        })

    /// The hard descriptor limit cordon (and so the sandbox) starts with.
    /// (From /proc/self/limits: "Max open files  SOFT  HARD  files".)
    static var descriptorLimit: Int {
        let text = (try? FileIO.readFile("/proc/self/limits", limit: 65536)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Max open files") }) else { return 0 }
        let fields = line.dropFirst("Max open files".count).split(separator: " ")
        return fields.count >= 2 ? Int(fields[1]) ?? 0 : 0
    }

    static let fdExhaustion = Attack(
        id: "res.fd-exhaustion", category: .resources,
        description: "raise the descriptor limit and open 100000 descriptors",
        defence: "RLIMIT_NOFILE: no CAP_SYS_RESOURCE in the host's user namespace to raise the hard limit",
        control: "on the host as root, the same raises its limit and holds more descriptors than the hard limit",
        runControl: { (environment) throws(SelftestFailure) in
            let fixture = try get(environment)
            let tag = ProcessTools.tag(environment, "fds")
            let script = try ProcessTools.script(
                environment, in: environment.hostDirectory, "HOLD=3 python3 \(Shell.quote(fixture.hostTool)) fds 100000 \(tag)")
            let (watch, _) = try ProcessTools.watching(environment, tag: tag, seconds: 8) { () throws(SelftestFailure) in
                try environment.host("sh " + Shell.quote(environment.hostDirectory + "/" + script))
            }
            let limit = descriptorLimit
            return watch.descriptors > limit
                ? .succeeded("\(watch.descriptors) descriptors, over the hard limit \(limit)")
                : .failed("\(watch.descriptors) descriptors, within the hard limit \(limit)")
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let limit = descriptorLimit
            let (watch, _) = try load(environment, "selftest-res-fds", resources: "", seconds: 12) {
                "HOLD=3 python3 \(tool) fds 100000 \($0) 2>&1; echo done"
            }
            return try limitObservation(watch, watch.descriptors > limit, "descriptors (hard limit \(limit))")
        })

    static let cpuSpin = Attack(
        id: "res.cpu-spin", category: .resources,
        description: "spin two processes for 4 s in a sandbox limited to a quarter of a CPU",
        defence: "the cgroup's CPU quota (resources.cpus)",
        control: "the same without a CPU limit uses more than 0.4 CPU",
        runControl: { (environment) throws(SelftestFailure) in
            let (watch, _) = try load(environment, "selftest-res-cpu-control", resources: "", seconds: 10) {
                "python3 \(tool) spin 4 2 \($0); echo done"
            }
            return watch.cpu > 0.4 ? .succeeded("used \(watch.cpu) CPU") : .failed("used only \(watch.cpu) CPU (a busy host?)")
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let (watch, _) = try load(environment, "selftest-res-cpu", resources: "cpus: 0.25", seconds: 10) {
                "python3 \(tool) spin 4 2 \($0); echo done"
            }
            return try limitObservation(watch, watch.cpu > 0.4, "CPU spin")
        })

    /// Starts `name` with `resources`, runs `script` in it, then measures its upper layer on
    /// the host (bytes, entries) and removes it.
    static func upperAfter(_ environment: SelftestEnvironment, _ name: String, resources: String, _ script: String) throws(SelftestFailure) -> (
        bytes: UInt64, entries: Int, output: ProcessOutput
    ) {
        let workspace = try environment.workspace(name)
        let profile = try environment.profile(name, "name: \(name)\nnetwork: none\nresources: {\(resources)}\n")
        try environment.up(name, profile: profile, workspace: workspace)
        defer { environment.remove(name) }
        // Not `exec` (which requires the script's last line): at its limit the sandbox is frozen,
        // so the attack's run ends by its timeout. The verdict is the host's measurement below.
        let output = try environment.cordon(["exec", name, "--", "/bin/sh", "-c", script], timeout: 25)
        let upper = Shell.quote(environment.upper(name))
        let measured = try environment.host("du -sb \(upper) | cut -f1; find \(upper) | wc -l")
        let numbers = measured.stdout.split(separator: "\n").compactMap { UInt64($0.trimming(" ")) }
        guard numbers.count == 2 else { throw SelftestFailure("cannot measure the upper layer of \(name): \(measured.summary)") }
        return (numbers[0], Int(numbers[1]), output)
    }

    static let diskScript = "i=0; while [ $i -lt 24 ]; do head -c 8388608 /dev/zero > /workspace/fill$i 2>&1 || break; i=$((i+1)); done; echo done"

    static let diskFill = Attack(
        id: "res.disk-fill", category: .resources,
        description: "write 192 MiB into the workspace (the upper layer, on the host's disk) of a sandbox limited to 32 MiB",
        defence: "resources.disk (a default always applies): the sandbox is frozen at the limit; RLIMIT_FSIZE",
        control: "the same in a sandbox limited to 1 GiB leaves more than 64 MiB in its upper layer",
        runControl: { (environment) throws(SelftestFailure) in
            let measured = try upperAfter(environment, "selftest-res-disk-control", resources: "disk: 1g", diskScript)
            return measured.bytes > 64 << 20
                ? .succeeded("the upper layer holds \(measured.bytes) bytes") : .failed("the upper layer holds only \(measured.bytes) bytes")
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let measured = try upperAfter(environment, "selftest-res-disk", resources: "disk: 32m", diskScript)
            return measured.bytes > 64 << 20
                ? .succeeded("the upper layer holds \(measured.bytes) bytes, over twice the 32 MiB limit")
                : .failed("the upper layer holds \(measured.bytes) bytes (\(measured.output.summary))")
        })

    static let inodeScript = """
        python3 -c 'import os
        os.makedirs("/workspace/many", exist_ok=True)
        try:
            for i in range(20000):
                open("/workspace/many/f%d" % i, "w").close()
        except OSError as e:
            print(e)' 2>&1
        echo done
        """

    static let inodeExhaustion = Attack(
        id: "res.inode-exhaustion", category: .resources,
        description: "create 20000 files in the workspace of a sandbox limited to 2000 entries",
        defence: "resources.inodes (a default always applies): the sandbox is frozen at the limit",
        control: "the same under the default limit leaves more than 4000 entries in the upper layer",
        runControl: { (environment) throws(SelftestFailure) in
            _ = try get(environment)
            let measured = try upperAfter(environment, "selftest-res-inodes-control", resources: "", inodeScript)
            return measured.entries > 4000
                ? .succeeded("the upper layer holds \(measured.entries) entries") : .failed("the upper layer holds only \(measured.entries) entries")
        },
        runAttack: { (environment) throws(SelftestFailure) in
            _ = try get(environment)
            let measured = try upperAfter(environment, "selftest-res-inodes", resources: "inodes: 2000", inodeScript)
            return measured.entries > 4000
                ? .succeeded("the upper layer holds \(measured.entries) entries, over twice the limit")
                : .failed("the upper layer holds \(measured.entries) entries (\(measured.output.summary))")
        })

    /// After `kill` ran: whether processes tagged `tag`, or a net namespace `netns`, are left.
    static func leftovers(_ environment: SelftestEnvironment, tag: String, netns: String, _ what: String) throws(SelftestFailure) -> Observation {
        usleep(3_000_000)
        let seen = try environment.host(
            """
            pgrep -f -- \(Shell.quote(ProcessTools.pattern(tag))) | sed 's/^/process /'
            for p in /proc/[0-9]*; do [ "$(readlink $p/ns/net 2>/dev/null)" = \(Shell.quote(netns)) ] && echo "netns held by ${p#/proc/}"; done
            grep -F \(Shell.quote(netns)) /proc/self/mountinfo | sed 's/^/netns mounted /'
            true
            """)
        _ = try? environment.host("pkill -KILL -f -- \(Shell.quote(ProcessTools.pattern(tag))); true")
        let left = seen.stdout.split(separator: "\n").filter { $0.hasPrefix("process") || $0.hasPrefix("netns") }
        return left.isEmpty
            ? .failed("\(what): no process and no net namespace left") : .succeeded("\(what): left behind: \(left.prefix(4).joined(separator: "; "))")
    }

    /// Waits until a process tagged `tag` runs on the host; returns its pid and net namespace.
    static func tagged(_ environment: SelftestEnvironment, _ tag: String) throws(SelftestFailure) -> (Int32, String) {
        let found = try environment.host(
            "i=0; while [ $i -lt 200 ]; do p=$(pgrep -f -- \(Shell.quote(ProcessTools.pattern(tag))) | head -n 1); [ -n \"$p\" ] && { echo $p; readlink /proc/$p/ns/net; exit 0; }; sleep 0.1; i=$((i+1)); done; exit 1"
        )
        let lines = found.stdout.split(separator: "\n")
        guard found.status == 0, lines.count == 2, let pid = Int32(lines[0]) else { throw SelftestFailure("the tagged process never started") }
        return (pid, String(lines[1]))
    }

    static let supervisorKill = Attack(
        id: "res.supervisor-sigkill", category: .resources,
        description: "SIGKILL the supervisor of a sandbox running processes: do they or its net namespace outlive it?",
        defence: "the sandbox's init dies with the supervisor (PR_SET_PDEATHSIG), taking its pid namespace, and so its net namespace, with it",
        control: "on the host, SIGKILL of the parent of a process in a new net namespace (unshare -nf) leaves the process and the namespace",
        runControl: { (environment) throws(SelftestFailure) in
            let tag = ProcessTools.tag(environment, "orphan")
            let script = try ProcessTools.script(environment, in: environment.hostDirectory, "sh -c 'sleep 60; :' \(tag) & wait")
            let started = try environment.host(
                "unshare -n -f sh \(Shell.quote(environment.hostDirectory + "/" + script)) </dev/null >/dev/null 2>&1 & echo $!")
            guard let parent = Int32(started.stdout.trimming("\n")) else { throw SelftestFailure("cannot start unshare: \(started.summary)") }
            environment.atCleanup {
                _ = try? ProcessRun.run(
                    ["/bin/sh", "-c", "pkill -KILL -f -- \(Shell.quote(ProcessTools.pattern(tag))); true"], environment: ["PATH=/usr/bin:/bin"], timeout: 30)
            }
            let (_, netns) = try tagged(environment, tag)
            _ = kill(parent, SIGKILL)
            return try leftovers(environment, tag: tag, netns: netns, "host unshare")
        },
        runAttack: { (environment) throws(SelftestFailure) in
            _ = try get(environment)
            let name = "selftest-res-kill"
            let tag = ProcessTools.tag(environment, "orphan")
            let workspace = try environment.workspace(name)
            let profile = try environment.profile(name, "name: \(name)\n")
            try environment.up(name, profile: profile, workspace: workspace)
            defer { environment.remove(name) }
            let script = try ProcessTools.script(environment, in: workspace, "sh -c 'sleep 60; :' \(tag) & sh -c 'sleep 60; :' \(tag)")
            let exec = try environment.host(
                "\(Shell.quote(environment.cordon)) exec \(name) -- sh /workspace/\(script) </dev/null >/dev/null 2>&1 & echo $!")
            if let client = Int32(exec.stdout.trimming("\n")) { environment.atCleanup { _ = kill(client, SIGKILL) } }
            environment.atCleanup {
                _ = try? ProcessRun.run(
                    ["/bin/sh", "-c", "pkill -KILL -f -- \(Shell.quote(ProcessTools.pattern(tag))); true"], environment: ["PATH=/usr/bin:/bin"], timeout: 30)
            }
            let (_, netns) = try tagged(environment, tag)
            let supervisor = try ProcessAttacks.supervisor(environment, name)
            _ = kill(supervisor, SIGKILL)
            return try leftovers(environment, tag: tag, netns: netns, "SIGKILL of the supervisor")
        })
}
