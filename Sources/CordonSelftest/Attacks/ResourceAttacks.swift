import CordonOS
import Glibc

/// The resource attacks: each runs a bounded load (a few seconds) in a sandbox with a tight
/// limit while the host watches the tagged processes (their number, memory, descriptors, CPU
/// time) and the time a host probe takes; the control runs the same load where the limit is
/// absent or looser (a sandbox with a larger limit, or the host as root) and must exceed the
/// tight limit, which proves the load is real and the host can see it.
enum ResourceAttacks {
    static var all: [Attack] { [forkBomb, pidExhaustion, memoryBomb, fdExhaustion, cpuSpin, diskFill, inodeExhaustion, supervisorKill] }

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
        let profile = try loadProfile(environment, name, resources: resources)
        let file = try ProcessTools.script(environment, in: fixture.workspace, script(tag))
        let result = try ProcessTools.watching(environment, tag: tag, seconds: seconds) { () throws(SelftestFailure) in
            try environment.run(name, profile: profile, workspace: fixture.workspace, "sh /workspace/" + file, timeout: 90)
        }
        environment.remove(name)
        return result
    }

    static func loadProfile(_ environment: SelftestEnvironment, _ name: String, resources: String) throws(SelftestFailure) -> String {
        try environment.profile(name, "name: \(name)\nnetwork: none\nresources: {\(resources)}\n")
    }

    /// Whether cordon refuses to start a sandbox with `resources` at all, saying `refusal`: the
    /// limit cannot be enforced on this host, and cordon fails closed. The refusal's line, or nil
    /// when the sandbox starts.
    static func refusedToStart(
        _ environment: SelftestEnvironment, _ name: String, resources: String, refusal: String
    ) throws(SelftestFailure) -> String? {
        let fixture = try get(environment)
        let profile = try loadProfile(environment, name + "-probe", resources: resources)
        let probe = try environment.cordon(
            ["run", "--name", name + "-probe", "--workspace", fixture.workspace, "--profile", profile, "--", "/bin/true"], directory: fixture.workspace,
            timeout: 60)
        environment.remove(name + "-probe")
        guard probe.status != 0 else { return nil }
        return probe.stderr.split(separator: "\n").first { $0.contains(refusal) }.map(String.init)
    }

    /// An observation that succeeds when `exceeded` or the host probe was slow; a load the host
    /// never saw proves nothing (the run could not be made).
    static func limitObservation(_ watch: ProcessTools.Watch, _ exceeded: Bool, _ what: String) throws(SelftestFailure) -> Observation {
        if exceeded { return .succeeded("\(what): over the limit (\(watch.summary))") }
        if watch.latency > latencyBound { return .succeeded("\(what): the host was unresponsive (\(watch.summary))") }
        if watch.processes == 0 { throw SelftestFailure("\(what): the host never saw the load (\(watch.summary))") }
        return .failed("\(what): within the limit, the host responsive (\(watch.summary))")
    }

    /// An attack whose load `script(tag)` runs in a sandbox with `resources` and, as its control,
    /// in one with the looser `controlResources`; `exceeded` tells from what the host saw whether
    /// a run got past the tight limit (`over` says how, for the evidence).
    static func limitAttack(
        id: String, description: String, defence: String, control: String, name: String, resources: String, controlResources: String,
        seconds: Int, over: String, script: @escaping @Sendable (String) -> String,
        exceeded: @escaping @Sendable (ProcessTools.Watch) -> Bool, failsClosedWith refusal: String? = nil
    ) -> Attack {
        Attack(
            id: id, category: .resources, description: description, defence: defence, control: control,
            runControl: { (environment) throws(SelftestFailure) in
                let (watch, _) = try load(environment, name + "-control", resources: controlResources, seconds: seconds, script)
                return exceeded(watch) ? .succeeded("\(over) (\(watch.summary))") : .failed("not \(over) (\(watch.summary))")
            },
            runAttack: { (environment) throws(SelftestFailure) in
                // A host where the limit cannot be enforced: cordon must refuse the sandbox.
                if let refusal, let line = try refusedToStart(environment, name, resources: resources, refusal: refusal) {
                    return .failed("\(id): cordon refused to start the sandbox, the limit being unenforceable here: \(line)")
                }
                let (watch, _) = try load(environment, name, resources: resources, seconds: seconds, script)
                return try limitObservation(watch, exceeded(watch), id)
            })
    }

    static let forkBomb = limitAttack(
        id: "res.fork-bomb",
        description: "a fork bomb (every process forks until fork fails) for 4 s in a sandbox limited to 64 processes",
        defence: "the cgroup's pids limit (resources.pids)",
        control: "the same bomb in a sandbox limited to 512 processes has more than 64 at once",
        name: "selftest-res-fork", resources: "pids: 64", controlResources: "pids: 512", seconds: 12, over: "more than 64 processes",
        script: { "python3 \(tool) forkbomb 4 \($0) 2>/dev/null; echo done" }, exceeded: { $0.processes > 64 })

    static let pidExhaustion = limitAttack(
        id: "res.pid-exhaustion", description: "start 1500 long-lived processes under the default profile (pid exhaustion)",
        defence: "the cgroup's pids limit, 1024 by default (resources.pids)",
        control: "the same in a sandbox limited to 4096 processes has more than 1024 at once",
        name: "selftest-res-pids", resources: "", controlResources: "pids: 4096", seconds: 30, over: "more than 1024 processes",
        script: { tag in "i=0; while [ $i -lt 1500 ]; do sh -c 'sleep 15; :' \(tag) 2>/dev/null & i=$((i+1)); done; wait; echo done" },
        exceeded: { $0.processes > 1024 })

    static let memoryLimit: UInt64 = 128 << 20

    static let memoryBomb = limitAttack(
        id: "res.memory-bomb", description: "allocate and touch 384 MiB in a sandbox limited to 128 MiB",
        defence: "the cgroup's memory limit (resources.memory), swap included",
        control: "the same in a sandbox limited to 1 GiB holds more than 160 MiB",
        name: "selftest-res-mem", resources: "memory: 128m", controlResources: "memory: 1g", seconds: 12, over: "more than 160 MiB resident",
        script: { "HOLD=3 python3 \(tool) memory 384 \($0) 2>&1; echo done" }, exceeded: { $0.memory > memoryLimit + (32 << 20) })

    static let cpuSpin = limitAttack(
        id: "res.cpu-spin", description: "spin two processes for 4 s in a sandbox limited to a quarter of a CPU",
        defence: "the cgroup's CPU quota (resources.cpus); without cgroups, cordon does not start the sandbox",
        control: "the same without a CPU limit uses more than 0.4 CPU (a host too busy to give it makes the attack invalid)",
        name: "selftest-res-cpu", resources: "cpus: 0.25", controlResources: "", seconds: 10, over: "more than 0.4 CPU used",
        script: { "python3 \(tool) spin 4 2 \($0); echo done" }, exceeded: { $0.cpu > 0.4 }, failsClosedWith: "cannot be enforced here")

    // MARK: - Descriptors

    /// The hard descriptor limit cordon is started with for the descriptor attack (lowered, so
    /// that the attack and its control take a second), and the number of workers that open
    /// descriptors. The sandbox has the default pids limit.
    static let descriptorLimit = 2048
    static let descriptorPids = 16
    static let defaultPids: UInt64 = 1024

    /// What cordon promises each sandbox process (docs/configuration.md, `resources.pids`): an
    /// equal part of half the host's file table by the pids limit, at most the limit cordon was
    /// started with, at least 64. On a host whose table is under ~4.2 million files the
    /// half-table part binds (1,204 on a 24 GiB host), otherwise cordon's own limit does.
    static func descriptorBudget() -> Int {
        let text = (try? FileIO.readFile("/proc/sys/fs/file-max", limit: 64)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let fileMax = UInt64(text.filter { !$0.isWhitespace }) ?? UInt64.max
        return Int(min(UInt64(descriptorLimit), max(64, fileMax / 2 / defaultPids)))
    }

    /// What the workers (and the script that starts them) may hold together.
    static func descriptorBound() -> Int { (descriptorPids + 1) * descriptorBudget() }

    /// The descriptor bomb: `descriptorPids` workers, each raising its limit to twice
    /// `descriptorLimit` and opening that many (in all, twice the bound where nothing limits it).
    static func descriptorScript(_ tool: String) -> (String) -> String {
        { tag in "HOLD=3 python3 \(tool) fdbomb \(descriptorPids) \(descriptorLimit * 2) \(tag) 2>&1 | sort | uniq -c; echo done" }
    }

    /// A one-shot sandbox with the default pids limit, started by a cordon whose hard descriptor
    /// limit is `descriptorLimit`, running the descriptor bomb while the host counts the
    /// descriptors of every process in its cgroup and reads the limit they run with.
    static func descriptorLoad(_ environment: SelftestEnvironment) throws(SelftestFailure) -> ProcessTools.Watch {
        let fixture = try get(environment)
        let name = "selftest-res-fds"
        let tag = ProcessTools.tag(environment, "fds")
        let profile = try environment.profile(name, "name: \(name)\nnetwork: none\n")
        let file = try ProcessTools.script(environment, in: fixture.workspace, descriptorScript(tool)(tag))
        let command =
            [environment.cordon, "run", "--name", name, "--workspace", fixture.workspace, "--profile", profile, "--"]
            + ["/bin/sh", "-c", SelftestEnvironment.sentinelled("sh /workspace/" + file)]
        environment.atCleanup { environment.remove(name) }
        defer { environment.remove(name) }
        let (watch, output) = try ProcessTools.watching(environment, tag: tag, seconds: 12, cgroups: true) { () throws(SelftestFailure) in
            try environment.host(
                "ulimit -n \(descriptorLimit) && exec \(command.map(Shell.quote).joined(separator: " "))", timeout: 90)
        }
        _ = try SelftestEnvironment.checked(output, "sandbox \(name)")
        return watch
    }

    static let fdExhaustion = Attack(
        id: "res.fd-exhaustion", category: .resources,
        description:
            "open descriptors until it fails in \(descriptorPids) processes of a default-profile sandbox, each raising its limit to twice the hard limit \(descriptorLimit) cordon was started with",
        defence:
            "RLIMIT_NOFILE of each process: an equal part of half the host's file table by the pids limit, at most the caller's; no CAP_SYS_RESOURCE in the host's user namespace to raise it",
        control:
            "the same script on the host (its own limit raised) holds more than \(descriptorPids + 1) processes' share of the budget",
        runControl: { (environment) throws(SelftestFailure) in
            let fixture = try get(environment)
            let tag = ProcessTools.tag(environment, "fds")
            let script = try ProcessTools.script(environment, in: environment.hostDirectory, descriptorScript(Shell.quote(fixture.hostTool))(tag))
            let (watch, _) = try ProcessTools.watching(environment, tag: tag, seconds: 12) { () throws(SelftestFailure) in
                try environment.host("sh " + Shell.quote(environment.hostDirectory + "/" + script))
            }
            let bound = descriptorBound()
            return watch.totalDescriptors > bound
                ? .succeeded("\(watch.totalDescriptors) descriptors held at once, over the bound \(bound)")
                : .failed("\(watch.totalDescriptors) descriptors held at once, within the bound \(bound) (\(watch.summary))")
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let watch = try descriptorLoad(environment)
            let budget = descriptorBudget()
            let bound = (descriptorPids + 1) * budget
            let held = max(watch.totalDescriptors, watch.cgroupDescriptors)
            let seen =
                "its cgroup held \(watch.cgroupDescriptors) descriptors at once (tagged processes \(watch.totalDescriptors)), hard limit seen \(watch.descriptorLimit), promised at most \(budget) a process"
            if watch.hostOpenFailures > 0 { return .succeeded("the host could not open a file \(watch.hostOpenFailures) times; \(seen)") }
            if watch.descriptorLimit > budget { return .succeeded("a sandbox process ran with more than its part of the file table: \(seen)") }
            return try limitObservation(watch, held > bound, "descriptors (bound \(bound)): \(seen)")
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

    /// An attack that runs `script` in a sandbox with `resources` and, as its control, in one
    /// with `controlResources`, then measures the upper layer on the host; `over` says from the
    /// measurement whether a run got past the tight limit and its slack, and what it holds.
    static func upperAttack(
        id: String, description: String, defence: String, control: String, name: String, resources: String, controlResources: String,
        python: Bool, script: String, over: @escaping @Sendable (_ bytes: UInt64, _ entries: Int) -> (Bool, String)
    ) -> Attack {
        Attack(
            id: id, category: .resources, description: description, defence: defence, control: control,
            runControl: { (environment) throws(SelftestFailure) in
                if python { _ = try get(environment) }
                let measured = try upperAfter(environment, name + "-control", resources: controlResources, script)
                let (exceeded, holds) = over(measured.bytes, measured.entries)
                return exceeded ? .succeeded("the upper layer holds \(holds)") : .failed("the upper layer holds only \(holds)")
            },
            runAttack: { (environment) throws(SelftestFailure) in
                if python { _ = try get(environment) }
                let measured = try upperAfter(environment, name, resources: resources, script)
                let (exceeded, holds) = over(measured.bytes, measured.entries)
                return exceeded
                    ? .succeeded("the upper layer holds \(holds), past the limit and its slack")
                    : .failed("the upper layer holds \(holds) (\(measured.output.summary))")
            })
    }

    /// How far past its limit a disk-filling sandbox may get before the attack calls it OPEN: the
    /// watcher measures every 0.1 s and what is written in between is the documented slack (one
    /// period at the rate the host's disk takes writes; up to ~100 MiB was seen on a loaded host).
    /// What matters is that the sandbox is stopped, far short of what it attempts (384 MiB here).
    static let diskSlack: UInt64 = 128 << 20

    static let diskFill = upperAttack(
        id: "res.disk-fill", description: "write 384 MiB into the workspace (the upper layer, on the host's disk) of a sandbox limited to 32 MiB",
        defence: "resources.disk (a default always applies): the sandbox is frozen at the limit (within one 0.1 s measurement's slack); RLIMIT_FSIZE",
        control: "the same in a sandbox limited to 1 GiB leaves more than the limit plus 128 MiB of slack in its upper layer",
        name: "selftest-res-disk", resources: "disk: 32m", controlResources: "disk: 1g", python: false,
        script: "i=0; while [ $i -lt 48 ]; do head -c 8388608 /dev/zero > /workspace/fill$i 2>&1 || break; i=$((i+1)); done; echo done",
        over: { bytes, _ in (bytes > (32 << 20) + diskSlack, "\(bytes) bytes") })

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

    static let inodeExhaustion = upperAttack(
        id: "res.inode-exhaustion", description: "create 20000 files in the workspace of a sandbox limited to 2000 entries",
        defence: "resources.inodes (a default always applies): the sandbox is frozen at the limit",
        control: "the same under the default limit leaves more than 4000 entries in the upper layer",
        name: "selftest-res-inodes", resources: "inodes: 2000", controlResources: "", python: true, script: inodeScript,
        over: { _, entries in (entries > 4000, "\(entries) entries") })

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
                SelftestEnvironment.unshare("-n -f") + " sh \(Shell.quote(environment.hostDirectory + "/" + script)) </dev/null >/dev/null 2>&1 & echo $!")
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
