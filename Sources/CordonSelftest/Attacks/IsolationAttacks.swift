import CordonOS
import Glibc

/// Isolation between sandboxes: two run at once, A holding a listener (TCP on every address
/// and an abstract unix socket), a tagged process and a file in its /tmp; B, the attacker, tries
/// to see or reach them. A records what reaches its listener in its upper layer, which the host
/// reads.
enum IsolationAttacks {
    static var all: [Attack] { [processes, network, abstractSocket, tmpFiles] }

    static let victim = "selftest-iso-a"
    static let attacker = "selftest-iso-b"
    static let port = 47_113
    static let received = "/workspace/.iso-received"

    struct Fixture {
        /// A's listener (a host pid) and its tag.
        let pid: Int32
        let tag: String
        /// The abstract socket's name.
        let socketName: String
        /// The marker in A's /tmp.
        let secret: String
        /// A's IPv4 addresses (not loopback), as the host sees them in its net namespace.
        let addresses: [String]
        let hostTool: String
    }

    /// Both sandboxes started, A's listener running (for two minutes at most; ended at cleanup).
    static func get(_ environment: SelftestEnvironment) throws(SelftestFailure) -> Fixture {
        try environment.fixture("isolation") { (environment) throws(SelftestFailure) -> Fixture in
            let workspaceA = try environment.workspace("iso-a")
            let workspaceB = try environment.workspace("iso-b")
            _ = try ProcessTools.installInside(in: workspaceA, environment)
            _ = try ProcessTools.installInside(in: workspaceB, environment)
            let hostTool = try ProcessTools.installInside(in: environment.hostDirectory, environment)
            // Started once (a failed start is not retried: the next attack says why).
            _ = try environment.shared(victim) { (environment) throws(SelftestFailure) in
                try environment.up(victim, profile: try environment.profile(victim, "name: \(victim)\n"), workspace: workspaceA)
            }
            _ = try environment.shared(attacker) { (environment) throws(SelftestFailure) in
                try environment.up(attacker, profile: try environment.profile(attacker, "name: \(attacker)\n"), workspace: workspaceB)
            }
            let tag = ProcessTools.tag(environment, "listener")
            let socketName = ProcessTools.tag(environment, "abstract")
            let secret = environment.marker()
            let wrote = try environment.exec(victim, "printf '%s\\n' \(secret) > /tmp/iso-secret")
            guard wrote.status == 0 else { throw SelftestFailure("sandbox A cannot write its /tmp: \(wrote.summary)") }
            let script = try ProcessTools.script(
                environment, in: workspaceA, "python3 \(ProcessAttacks.tool) listen \(received) \(port) \(socketName) 120 \(tag)")
            let started = try environment.host(
                "\(Shell.quote(environment.cordon)) exec \(victim) -- sh /workspace/\(script) </dev/null >/dev/null 2>&1 & echo $!")
            if let client = Int32(started.stdout.trimming("\n")) { environment.atCleanup { _ = kill(client, SIGKILL) } }
            let (pid, _) = try ResourceAttacks.tagged(environment, tag)
            // Listening once the socket shows in its net namespace.
            let ready = try environment.host(
                "i=0; while [ $i -lt 100 ]; do grep -q \(Shell.quote(socketName)) /proc/\(pid)/net/unix && exit 0; sleep 0.1; i=$((i+1)); done; exit 1")
            guard ready.status == 0 else { throw SelftestFailure("sandbox A's listener did not start") }
            let listed = try environment.host(
                SelftestEnvironment.inNetworkNamespace(of: pid) + " ip -4 -o addr show 2>/dev/null | awk '{print $4}' | cut -d/ -f1")
            let addresses = listed.stdout.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("127.") && !$0.isEmpty }
            return Fixture(pid: pid, tag: tag, socketName: socketName, secret: secret, addresses: addresses, hostTool: hostTool)
        }
    }

    /// Whether `word` reached A's listener (A appended it to its received file, in its upper layer).
    static func reached(_ environment: SelftestEnvironment, _ word: String, _ what: String, _ output: ProcessOutput) -> Observation {
        usleep(500_000)
        let got = environment.read(environment.upper(victim) + "/" + received.dropFirst("/workspace/".count)) ?? ""
        return got.contains(word)
            ? .succeeded("\(what): sandbox A's listener received it") : .failed("\(what): sandbox A's listener received nothing from it (\(output.summary))")
    }

    /// From the host, inside A's net namespace: the listener works.
    static func controlConnect(_ environment: SelftestEnvironment, _ targets: [String], _ what: String) throws(SelftestFailure) -> Observation {
        let fixture = try get(environment)
        let word = ProcessTools.tag(environment, "control")
        let output = try environment.host(
            SelftestEnvironment.inNetworkNamespace(of: fixture.pid)
                + " python3 \(Shell.quote(fixture.hostTool)) connect \(word) \(targets.map(Shell.quote).joined(separator: " "))")
        return reached(environment, word, what, output)
    }

    static let processes = Attack(
        id: "iso.processes", category: .isolation,
        description: "see another sandbox's processes (/proc walk, ps, kill -0 of its host pid)",
        defence: "one pid namespace per sandbox",
        control: "on the host, the same walk finds sandbox A's tagged process",
        runControl: { (environment) throws(SelftestFailure) in
            let fixture = try get(environment)
            let output = try environment.host(LeakAttacks.cmdlineScript)
            return output.combined.contains(fixture.tag)
                ? .succeeded("host: sandbox A's process is visible") : .failed("host: sandbox A's process is not visible")
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let fixture = try get(environment)
            let output = try environment.exec(attacker, LeakAttacks.cmdlineScript + "\nps -ef 2>/dev/null\nkill -0 \(fixture.pid) 2>&1; echo done")
            return output.combined.contains(fixture.tag)
                ? .succeeded("sandbox B saw sandbox A's process") : .failed("sandbox B did not see sandbox A's process (\(output.summary))")
        })

    static let network = Attack(
        id: "iso.network", category: .isolation,
        description: "connect to a TCP listener in another sandbox (127.0.0.1, its addresses)",
        defence: "one net namespace per sandbox; the proxy refuses private addresses",
        control: "from the host inside sandbox A's net namespace, the same connection reaches the listener",
        runControl: { (environment) throws(SelftestFailure) in
            try controlConnect(environment, ["127.0.0.1:\(port)"], "host in A's net namespace")
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let fixture = try get(environment)
            let word = ProcessTools.tag(environment, "attack")
            let targets = (["127.0.0.1"] + fixture.addresses).map { "\($0):\(port)" }
            let output = try environment.exec(
                attacker,
                "python3 \(ProcessAttacks.tool) connect \(word) \(targets.joined(separator: " ")) 2>&1; curl -s -m 3 -d \(word) http://\(fixture.addresses.first ?? "127.0.0.1"):\(port)/ 2>&1; echo done"
            )
            return reached(environment, word, "sandbox B", output)
        })

    static let abstractSocket = Attack(
        id: "iso.abstract-socket", category: .isolation,
        description: "connect to another sandbox's abstract unix socket",
        defence: "abstract sockets belong to the net namespace: one per sandbox",
        control: "from the host inside sandbox A's net namespace, the same connection reaches the socket",
        runControl: { (environment) throws(SelftestFailure) in
            let fixture = try get(environment)
            return try controlConnect(environment, ["@" + fixture.socketName], "host in A's net namespace")
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let fixture = try get(environment)
            let word = ProcessTools.tag(environment, "attack")
            let output = try environment.exec(
                attacker, "python3 \(ProcessAttacks.tool) connect \(word) @\(fixture.socketName) 2>&1; cat /proc/net/unix 2>&1; echo done")
            return reached(environment, word, "sandbox B", output)
        })

    static let tmpFiles = Attack(
        id: "iso.tmp-files", category: .isolation,
        description: "read a file in another sandbox's /tmp (by path, through /proc/*/root, by search)",
        defence: "one mount namespace and one /tmp per sandbox; pid namespace",
        control: "on the host, sandbox A's /tmp file is read through its process's root",
        runControl: { (environment) throws(SelftestFailure) in
            let fixture = try get(environment)
            return Observation.markerSeen(
                fixture.secret, in: try environment.host("cat /proc/\(fixture.pid)/root/tmp/iso-secret"), what: "host read of A's /tmp")
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let fixture = try get(environment)
            let output = try environment.exec(
                attacker,
                """
                cat /tmp/iso-secret /proc/\(fixture.pid)/root/tmp/iso-secret 2>&1
                for p in /proc/[0-9]*; do cat $p/root/tmp/iso-secret 2>/dev/null; done
                find / \\( -path /proc -o -path /sys \\) -prune -o -name iso-secret -print 2>/dev/null | while read -r f; do cat "$f"; done
                echo done
                """, timeout: 120)
            return Observation.markerSeen(fixture.secret, in: output, what: "sandbox B's read")
        })
}
