import CordonOS
import Glibc

/// The network attacks' far side: a network namespace made for the run (`cst-…`, deleted at
/// cleanup) whose loopback holds the addresses the attacks aim at (127.0.0.1 for the allowed
/// stand-in, 127.0.0.2 where an unlisted name points, 10.213.0.9 an unlisted host, 169.254.169.254 the cloud metadata service, 1.1.1.1 a
/// public resolver, fd00:5e1f::9 an IPv6 host), with the far-side program listening on them, an
/// upstream DNS resolver stand-in on 127.0.0.1:53 that the host's resolver configuration names
/// (a resolv.conf bound over /etc/resolv.conf in a private mount namespace), and the sandboxes'
/// supervisors run in it. Nothing an attack sends can leave the machine: the namespace has no
/// route out. Verdicts read the far side's log: what arrived, and at which local address.
///
/// Run by an ordinary user, the lab is the same made without privilege: a user namespace of its
/// own (the user is its root) with a network and a mount namespace, kept by a holder process
/// (`holder`); controls run in it as that root, and cordon runs in it as the user (a user
/// namespace nested in the lab's maps the user back to itself), so its sandboxes are rootless as
/// they would be outside the lab.
final class NetworkLab: @unchecked Sendable {
    let namespace: String
    let log: String
    let resolvConf: String
    unowned let environment: SelftestEnvironment
    /// Rootless: the process that keeps the lab's namespaces (nil when run as root: `ip netns`).
    private var holder: Int32?

    static let allowed = "127.0.0.1"
    static let unlisted = "10.213.0.9"
    /// Where the unlisted name (unlisted.test) points: loopback, which every lab sandbox may reach
    /// (allow_private), so only the allow list stands between it and the attacks that use it.
    static let unlistedName = "127.0.0.2"
    static let metadata = "169.254.169.254"
    static let resolver = "1.1.1.1"
    static let ipv6 = "fd00:5e1f::9"

    /// The sandboxes (started on first use, shared by the network and secrets attacks).
    static let strict = "selftest-net"
    static let open = "selftest-net-open"
    static let hostNetwork = "selftest-net-host"

    private init(environment: SelftestEnvironment, namespace: String) {
        self.environment = environment
        self.namespace = namespace
        log = environment.hostDirectory + "/farside.log"
        resolvConf = environment.hostDirectory + "/lab-resolv.conf"
    }

    /// The lab, made once.
    static func get(_ environment: SelftestEnvironment) throws(SelftestFailure) -> NetworkLab {
        try environment.fixture("network-lab") { (environment) throws(SelftestFailure) -> NetworkLab in
            guard environment.hasPython else { throw SelftestFailure("python3 is not on this host's PATH (the far side and the client need it)") }
            let name = "cst-" + environment.marker("x").dropFirst(2).prefix(10).lowercased()
            let lab = NetworkLab(environment: environment, namespace: name)
            guard getuid() == 0 else {
                try lab.startRootless()
                return lab
            }
            let made = try environment.host("ip netns add \(name)")
            guard made.status == 0 else { throw SelftestFailure("cannot make the network namespace \(name): \(made.summary)") }
            environment.atCleanup { _ = try? environment.host("ip netns del \(name)") }
            try lab.start()
            return lab
        }
    }

    /// The lab of an ordinary user: the holder makes its namespaces, sets up loopback as `start`
    /// does, binds the resolver configuration, starts the far side and sleeps; the lab lasts
    /// while it lives.
    private func startRootless() throws(SelftestFailure) {
        let program = try writeFiles()
        let directory = environment.hostDirectory
        let holderFile = directory + "/lab-holder.pid"
        let pidFile = directory + "/farside.pid"
        let setup = """
            set -e
            ip link set lo up
            for a in \(Self.unlisted) \(Self.metadata) \(Self.resolver); do ip addr add $a/32 dev lo; done
            ip -6 addr add \(Self.ipv6)/128 dev lo nodad
            sysctl -q -w net.ipv4.ping_group_range='0 2147483647' 2>/dev/null || sysctl -q -w net.ipv4.ping_group_range='0 0'
            mount --bind \(Shell.quote(resolvConf)) /etc/resolv.conf
            python3 \(Shell.quote(program)) \(Shell.quote(log)) \(Shell.quote(pidFile)) </dev/null >\(Shell.quote(directory + "/farside.err")) 2>&1 &
            echo $$ > \(Shell.quote(holderFile))
            exec sleep 2147483647
            """
        let started = try environment.host(
            "unshare --user --map-root-user --net --mount --propagation private sh -c \(Shell.quote(setup)) </dev/null >/dev/null 2>\(Shell.quote(directory + "/lab.err")) &"
        )
        guard started.status == 0 else { throw SelftestFailure("cannot make the lab's namespaces: \(started.summary)") }
        for _ in 0..<50 {
            if let text = environment.read(holderFile), let pid = Int32(text.trimming("\n")), let far = environment.read(pidFile), let farPid = Int32(far) {
                holder = pid
                environment.atCleanup {
                    _ = kill(farPid, SIGKILL)
                    _ = kill(pid, SIGKILL)
                }
                return
            }
            usleep(100_000)
        }
        let why = [environment.read(directory + "/lab.err"), environment.read(directory + "/farside.err")].compactMap { $0 }.joined(separator: "; ")
        throw SelftestFailure("the rootless lab did not start (unprivileged user and network namespaces needed): \(why)")
    }

    /// The lab's files: the resolver configuration, the client tool, the far side's program
    /// (returned) and its empty log.
    private func writeFiles() throws(SelftestFailure) -> String {
        try environment.write(resolvConf, "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        try environment.write(hostTool, NetworkPython.client)
        let program = environment.hostDirectory + "/farside.py"
        try environment.write(program, NetworkPython.farSide)
        try environment.write(log, "")
        return program
    }

    private func start() throws(SelftestFailure) {
        let ns = namespace
        let setup = """
            set -e
            ip -n \(ns) link set lo up
            for a in \(Self.unlisted) \(Self.metadata) \(Self.resolver); do ip -n \(ns) addr add $a/32 dev lo; done
            ip -n \(ns) -6 addr add \(Self.ipv6)/128 dev lo nodad
            ip netns exec \(ns) sysctl -q -w net.ipv4.ping_group_range='0 2147483647'
            """
        let output = try environment.host(setup)
        guard output.status == 0 else { throw SelftestFailure("cannot set up the lab namespace \(ns): \(output.summary)") }
        let program = try writeFiles()
        let pidFile = environment.hostDirectory + "/farside.pid"
        let started = try environment.host(
            "nsenter --net=/run/netns/\(ns) python3 \(Shell.quote(program)) \(Shell.quote(log)) \(Shell.quote(pidFile)) </dev/null >\(Shell.quote(environment.hostDirectory + "/farside.err")) 2>&1 & echo $!"
        )
        guard let pid = Int32(started.stdout.trimming("\n")) else { throw SelftestFailure("cannot start the far side: \(started.summary)") }
        environment.atCleanup { _ = kill(pid, SIGKILL) }
        for _ in 0..<50 {
            if environment.read(pidFile)?.isEmpty == false { return }
            usleep(100_000)
        }
        throw SelftestFailure("the far side did not start: \(environment.read(environment.hostDirectory + "/farside.err") ?? "")")
    }

    // MARK: - Running in the lab

    /// `ARGV` run on the host inside the lab: its network namespace, and a private mount
    /// namespace whose /etc/resolv.conf names the upstream resolver stand-in.
    func hostCommand(_ argv: [String], timeout: Double = 120) throws(SelftestFailure) -> ProcessOutput {
        if let holder {
            // The holder's namespaces, as their root (the mount namespace has the resolver bound).
            let command = (["nsenter", "-t", String(holder), "--user", "--net", "--mount", "--preserve-credentials"] + argv).map(Shell.quote).joined(
                separator: " ")
            return try environment.host(command, timeout: timeout)
        }
        let inner = "mount --bind \"$0\" /etc/resolv.conf && exec nsenter --net=/run/netns/\(namespace) \"$@\""
        let command = (["unshare", "-m", "--propagation", "private", "sh", "-c", inner, resolvConf] + argv).map(Shell.quote).joined(separator: " ")
        return try environment.host(command, timeout: timeout)
    }

    /// The shell words that run a command in the lab's network namespace (for a process left
    /// running in the background): as root, that namespace; rootless, the holder's namespaces.
    var networkEntry: String {
        if let holder { return "nsenter -t \(holder) --user --net --preserve-credentials" }
        return "nsenter --net=/run/netns/\(namespace)"
    }

    /// `sh -c SCRIPT` on the host, in the lab (a control's run).
    func host(_ script: String, timeout: Double = 60) throws(SelftestFailure) -> ProcessOutput {
        try hostCommand(["/bin/sh", "-c", script], timeout: timeout)
    }

    /// `cordon ARGUMENTS…` in the lab.
    func cordon(_ arguments: [String], timeout: Double = 120) throws(SelftestFailure) -> ProcessOutput {
        guard holder != nil else { return try hostCommand([environment.cordon] + arguments, timeout: timeout) }
        // Rootless: as the user again (a user namespace that maps the user to itself), so cordon
        // runs its sandboxes rootless as it would outside the lab.
        let asUser = ["unshare", "--user", "--map-user=\(getuid())", "--map-group=\(getgid())"]
        return try hostCommand(asUser + [environment.cordon] + arguments, timeout: timeout)
    }

    /// The client tool's path on the host (for controls run on the host).
    var hostTool: String { environment.hostDirectory + "/nettool.py" }

    /// Starts sandbox `name` with `yaml` in the lab, once; its workspace holds the client tool at
    /// /workspace/.selftest/nettool.py.
    func sandbox(_ name: String, _ yaml: String, before: () throws(SelftestFailure) -> Void = {}) throws(SelftestFailure) {
        _ = try environment.shared(name) { (environment) throws(SelftestFailure) in
            let workspace = try environment.workspace(name)
            try environment.write(workspace + "/.selftest/nettool.py", NetworkPython.client)
            try before()
            let profile = try environment.profile(name, yaml)
            environment.atCleanup { environment.remove(name) }
            let output = try cordon(["up", "--name", name, "--workspace", workspace, "--profile", profile])
            guard output.status == 0 else { throw SelftestFailure("cannot start sandbox \(name) in the lab: \(output.summary)") }
        }
    }

    /// `cordon exec NAME -- sh -c SCRIPT` in the lab; throws when the script did not run to its
    /// end (the attack is then invalid, never held).
    func exec(_ name: String, _ script: String, timeout: Double = 90) throws(SelftestFailure) -> ProcessOutput {
        try SelftestEnvironment.checked(
            cordon(["exec", name, "--", "/bin/sh", "-c", SelftestEnvironment.sentinelled(script)], timeout: timeout), "sandbox \(name) in the lab")
    }

    // MARK: - Sandboxes

    static let pins =
        "{allowed.test: \(allowed), unlisted.test: \(unlistedName), private.test: \(unlisted), meta.test: \(metadata), dns.google: \(resolver), bound.test: \(allowed), ctl-approve.test: \(allowed), self-approve.test: \(allowed)}"

    /// The sandbox under attack: the proxy, a short allow list, loopback allowed for the stand-in.
    func strictSandbox() throws(SelftestFailure) -> String {
        try sandbox(
            Self.strict,
            """
            name: \(Self.strict)
            egress:
              domains: ["allowed.test:8080", "allowed.test:8443", "private.test:8080", "meta.test", "*.tun.test"]
              allow_private: ["127.0.0.0/8"]
              resolve: \(Self.pins)

            """)
        return Self.strict
    }

    /// The same proxy with the guards the attacks meet switched off: the unlisted targets listed,
    /// private and metadata addresses allowed.
    func openSandbox() throws(SelftestFailure) -> String {
        try sandbox(
            Self.open,
            """
            name: \(Self.open)
            egress:
              domains: ["allowed.test:8080", "allowed.test:9090", "unlisted.test:8080", "private.test:8080", "meta.test", "10.213.0.9:8080", "*.tun.test"]
              allow_private: ["127.0.0.0/8", "10.213.0.9/32", "169.254.169.254/32"]
              resolve: \(Self.pins)

            """)
        return Self.open
    }

    /// A sandbox on the lab's own network (`network: host`): no capture, no proxy, no stub.
    func hostNetworkSandbox() throws(SelftestFailure) -> String {
        try sandbox(Self.hostNetwork, "name: \(Self.hostNetwork)\nnetwork: host\n")
        return Self.hostNetwork
    }

    // MARK: - The far side's log

    /// What the far side received: (where, bytes) per read, in order.
    var records: [(where: String, bytes: [UInt8])] {
        (environment.read(log) ?? "").split(separator: "\n").compactMap { line in
            let parts = line.split(separator: "\t", maxSplits: 1)
            guard parts.count == 2 else { return nil }
            return (String(parts[0]), Self.unhex(parts[1]))
        }
    }

    static func unhex(_ text: Substring) -> [UInt8] {
        var bytes: [UInt8] = []
        var high: UInt8?
        for c in text.utf8 {
            let v: UInt8
            switch c {
            case 48...57: v = c - 48
            case 97...102: v = c - 87
            default: continue
            }
            if let h = high {
                bytes.append(h << 4 | v)
                high = nil
            } else {
                high = v
            }
        }
        return bytes
    }

    /// How many reads the far side has logged so far (a run that reuses a marker looks only after it).
    var mark: Int { records.count }

    /// Whether `marker` (case-insensitive: DNS folds case) arrived at a place `at` accepts; the
    /// places it arrived at.
    func arrivals(_ marker: String, since: Int = 0) -> [String] {
        let needle = Array(marker.lowercased().utf8)
        return records.dropFirst(since).compactMap { record in
            let bytes = record.bytes.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
            guard needle.count <= bytes.count, !needle.isEmpty else { return nil }
            let found = (0...(bytes.count - needle.count)).contains { bytes[$0..<($0 + needle.count)].elementsEqual(needle) }
            return found ? record.where : nil
        }
    }

    /// The far-side observation: `marker` arrived at a place `at` accepts, or not.
    func observe(_ marker: String, _ what: String, _ output: ProcessOutput, since: Int = 0, at: (String) -> Bool) -> Observation {
        // The far side logs from its own threads: a moment for the last reads to land.
        usleep(300_000)
        let places = arrivals(marker, since: since)
        let hits = places.filter(at)
        if !hits.isEmpty { return .succeeded("\(what): the far side received the marker at \(Set(hits).sorted().joined(separator: ", "))") }
        let elsewhere = places.isEmpty ? "" : " (it arrived only at \(Set(places).sorted().joined(separator: ", ")))"
        return .failed("\(what): the far side did not receive the marker there\(elsewhere) (\(output.summary))")
    }
}
