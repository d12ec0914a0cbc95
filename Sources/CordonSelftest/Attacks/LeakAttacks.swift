import Glibc

/// The host-information leaks: what the sandbox can learn about the host and its neighbours.
enum LeakAttacks {
    static var all: [Attack] { [hostName, machineIdentity, mountinfoPaths, cmdlinePaths, userName, sandboxNames, environmentVariable, inheritedDescriptor] }

    static let sandbox = "selftest-leaks"
    /// The variable set in cordon-selftest's environment (and so cordon's) before the sandbox starts.
    static let variable = "CORDON_SELFTEST_CANARY"

    /// Starts the shared sandbox (default network: the proxy), after setting the canary variable.
    static func start(_ environment: SelftestEnvironment) throws(SelftestFailure) {
        _ = envMarker(environment)
        _ = try environment.shared(sandbox) { (environment) throws(SelftestFailure) in
            let profile = try environment.profile(sandbox, "name: \(sandbox)\n")
            try environment.up(sandbox, profile: profile, workspace: try environment.workspace("leaks"))
        }
    }

    /// The canary variable's value, set once in this process's environment and every run's.
    static func envMarker(_ environment: SelftestEnvironment) -> String {
        (try? environment.fixture("env-marker") { (environment) throws(SelftestFailure) -> String in
            let marker = environment.marker()
            setenv(variable, marker, 1)
            environment.setEnvironment(variable, marker)
            return marker
        }) ?? ""
    }

    /// Whether `word` appears in `text` as a whole token (split at anything but letters, digits, `.`, `_`, `-`).
    static func hasToken(_ word: String, in text: String) -> Bool {
        text.split { !($0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-") }.contains { $0 == word }
    }

    static func tokenObservation(_ word: String, _ what: String, _ output: ProcessOutput) -> Observation {
        hasToken(word, in: output.combined)
            ? .succeeded("\(what): \"\(word)\" came back in the output")
            : .failed("\(what): \"\(word)\" did not come back (\(output.summary))")
    }

    static func pathObservation(_ path: String, _ what: String, _ output: ProcessOutput) -> Observation {
        output.combined.contains(path)
            ? .succeeded("\(what): the host path \(path) came back in the output")
            : .failed("\(what): no host path under \(path) came back (\(output.summary))")
    }

    // MARK: - Host name

    static var currentHostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static let hostNameScript = "uname -n; hostname 2>/dev/null; cat /proc/sys/kernel/hostname /proc/sys/kernel/domainname /etc/hostname /etc/hosts 2>/dev/null"

    static let hostName = Attack(
        id: "leak.host-name", category: .leaks,
        description: "learn the host's name (uname, /proc/sys/kernel/hostname, /etc/hostname, /etc/hosts)",
        defence: "UTS namespace with the sandbox's own name; generated /etc/hostname and /etc/hosts",
        control: "on the host, the same commands print the host's name",
        runControl: { (environment) throws(SelftestFailure) in
            let name = currentHostName
            guard !name.isEmpty, name != "localhost" else { throw SelftestFailure("the host's name is \"\(name)\": nothing to leak") }
            return tokenObservation(name, "host", try environment.host(hostNameScript))
        },
        runAttack: { (environment) throws(SelftestFailure) in
            try start(environment)
            return tokenObservation(currentHostName, "sandbox", try environment.exec(sandbox, hostNameScript))
        })

    // MARK: - Machine identity

    static let identityScript =
        "cat /etc/machine-id /var/lib/dbus/machine-id /proc/sys/kernel/random/boot_id /sys/class/dmi/id/product_uuid /sys/class/dmi/id/board_serial 2>/dev/null; echo"

    /// The host's identifiers, read on the host: machine-id and boot_id (those present).
    static func hostIdentifiers(_ environment: SelftestEnvironment) -> [String] {
        ["/etc/machine-id", "/proc/sys/kernel/random/boot_id"].compactMap { path in
            environment.read(path).map { $0.trimming("\n") }.flatMap { $0.count >= 16 ? $0 : nil }
        }
    }

    static func identityObservation(_ identifiers: [String], _ what: String, _ output: ProcessOutput) -> Observation {
        let seen = identifiers.filter { output.combined.contains($0) }
        return seen.isEmpty
            ? .failed("\(what): neither the host's machine-id nor its boot_id came back (\(output.summary))")
            : .succeeded("\(what): the host's \(seen.count == 2 ? "machine-id and boot_id" : "identifier \(seen[0])") came back")
    }

    static let machineIdentity = Attack(
        id: "leak.machine-id", category: .leaks,
        description: "read the host's machine-id and boot_id (stable identifiers that tie the agent's output to this machine)",
        defence: "the sandbox's own /etc/machine-id and boot_id bound over the host's",
        control: "on the host, the same reads show them",
        runControl: { (environment) throws(SelftestFailure) in
            let identifiers = hostIdentifiers(environment)
            guard !identifiers.isEmpty else { throw SelftestFailure("this host has neither /etc/machine-id nor a boot_id to leak") }
            return identityObservation(identifiers, "host", try environment.host(identityScript))
        },
        runAttack: { (environment) throws(SelftestFailure) in
            try start(environment)
            return identityObservation(hostIdentifiers(environment), "sandbox", try environment.exec(sandbox, identityScript))
        })

    // MARK: - Host paths

    static let mountinfoPaths = Attack(
        id: "leak.mountinfo-paths", category: .leaks,
        description: "read host paths (the workspace's, the state directory's) in /proc/self/mountinfo and /proc/self/mounts",
        defence: "mounts made from descriptors and relative names, so the mount table names no host path",
        control: "on the host, a bind mount of the workspace shows its path in mountinfo",
        runControl: { (environment) throws(SelftestFailure) in
            let workspace = Shell.quote(environment.root + "/ws-leaks")
            _ = try environment.workspace("leaks")
            let output = try environment.host(
                SelftestEnvironment.unshare("-m") + " sh -c 'mount --bind \"$1\" \"$1\" && cat /proc/self/mountinfo' sh \(workspace)")
            return pathObservation(environment.root, "host mountinfo", output)
        },
        runAttack: { (environment) throws(SelftestFailure) in
            try start(environment)
            let output = try environment.exec(sandbox, "cat /proc/self/mountinfo /proc/self/mounts /proc/1/mountinfo /proc/self/mountstats 2>/dev/null")
            return pathObservation(environment.root, "sandbox mount table", output)
        })

    /// A host process whose command line carries the temporary root's path (as a host process
    /// with a path in its argv would), alive through both runs.
    static func witness(_ environment: SelftestEnvironment) throws(SelftestFailure) {
        _ = try environment.fixture("witness") { (environment) throws(SelftestFailure) -> Int in
            let started = try environment.host(
                "sh -c 'exec sleep 600' selftest-witness \(Shell.quote(environment.root + "/witness")) </dev/null >/dev/null 2>&1 & echo $!")
            guard let pid = Int32(started.stdout.trimming("\n")) else { throw SelftestFailure("cannot start the witness process: \(started.summary)") }
            environment.atCleanup { _ = kill(pid, SIGKILL) }
            return Int(pid)
        }
    }

    static let cmdlineScript = """
        cat /proc/cmdline; echo
        for p in /proc/[0-9]*; do tr '\\0' ' ' < "$p/cmdline"; echo; tr '\\0' '\\n' < "$p/environ"; done 2>/dev/null
        """

    static let cmdlinePaths = Attack(
        id: "leak.cmdline-paths", category: .leaks,
        description: "read host paths in /proc/cmdline and other processes' command lines and environments",
        defence: "pid namespace: no host process is visible; the sandbox's processes carry no host path",
        control: "on the host, the same walk finds a host process whose command line holds the path",
        runControl: { (environment) throws(SelftestFailure) in
            try witness(environment)
            return pathObservation(environment.root, "host /proc walk", try environment.host(cmdlineScript))
        },
        runAttack: { (environment) throws(SelftestFailure) in
            try witness(environment)
            try start(environment)
            return pathObservation(environment.root, "sandbox /proc walk", try environment.exec(sandbox, cmdlineScript))
        })

    // MARK: - User

    static var currentUserName: String {
        guard let entry = getpwuid(getuid()), let name = entry.pointee.pw_name else { return "" }
        return String(cString: name)
    }

    static let userScript = "id -un; whoami; echo \"$USER $LOGNAME $HOME\"; getent passwd \"$(id -u)\"; id"

    static let userName = Attack(
        id: "leak.host-user-name", category: .leaks,
        description: "learn the host user's name (id, whoami, $USER, $LOGNAME, $HOME, the passwd entry)",
        defence: "the agent runs as its own user (agent, uid 1000) in a user namespace, with a generated /etc/passwd and environment",
        control: "on the host, the same commands print the user's name",
        runControl: { (environment) throws(SelftestFailure) in
            let name = currentUserName
            guard !name.isEmpty else { throw SelftestFailure("this host user has no name") }
            return tokenObservation(name, "host", try environment.host(userScript))
        },
        runAttack: { (environment) throws(SelftestFailure) in
            try start(environment)
            return tokenObservation(currentUserName, "sandbox", try environment.exec(sandbox, userScript))
        })

    // MARK: - Other sandboxes

    static let namesScript = """
        hostname; cat /etc/hostname /etc/hosts; env; cat /proc/self/cgroup /proc/self/mountinfo
        ls -R /sys/fs/cgroup 2>/dev/null | head -5000
        for p in /proc/[0-9]*; do tr '\\0' ' ' < "$p/cmdline"; echo; tr '\\0' '\\n' < "$p/environ"; done 2>/dev/null
        ls -a /run /var/run /tmp /dev/shm 2>/dev/null
        """

    /// Starts a neighbour sandbox with a random name; returns the name.
    static func neighbour(_ environment: SelftestEnvironment) throws(SelftestFailure) -> String {
        try environment.fixture("leak-neighbour") { (environment) throws(SelftestFailure) -> String in
            let name = "selftest-nb-" + environment.marker("x").dropFirst(2).prefix(12).lowercased()
            let profile = try environment.profile("neighbour", "name: selftest-neighbour\nnetwork: none\n")
            try environment.up(name, profile: profile, workspace: try environment.workspace("neighbour"))
            return name
        }
    }

    static let sandboxNames = Attack(
        id: "leak.sandbox-names", category: .leaks,
        description: "learn other sandboxes' names (host name, cgroups, /proc, environment, /run)",
        defence: "pid, UTS and cgroup namespaces; cordon's state directory not mounted",
        control: "on the host, the same commands show the neighbour sandbox's name",
        runControl: { (environment) throws(SelftestFailure) in
            let name = try neighbour(environment)
            let output = try environment.host(namesScript)
            return output.combined.contains(name)
                ? .succeeded("host: the neighbour's name \(name) came back") : .failed("host: the neighbour's name did not come back")
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let name = try neighbour(environment)
            try start(environment)
            let output = try environment.exec(sandbox, namesScript)
            return output.combined.contains(name)
                ? .succeeded("sandbox: the neighbour's name \(name) came back") : .failed("sandbox: the neighbour's name did not come back (\(output.summary))")
        })

    // MARK: - Environment and descriptors

    static let environmentScript = "env; cat /proc/self/environ /proc/1/environ; for p in /proc/[0-9]*; do tr '\\0' '\\n' < \"$p/environ\"; done 2>/dev/null"

    static let environmentVariable = Attack(
        id: "leak.host-environment", category: .leaks,
        description: "read a variable of the environment cordon was started with",
        defence: "the agent's environment is built from the profile; nothing is inherited but a short safe list",
        control: "on the host, a child started with cordon's environment prints it",
        runControl: { (environment) throws(SelftestFailure) in
            let marker = envMarker(environment)
            return Observation.markerSeen(marker, in: try environment.host("env"), what: "host environment")
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let marker = envMarker(environment)
            try start(environment)
            return Observation.markerSeen(marker, in: try environment.exec(sandbox, environmentScript), what: "sandbox environment")
        })

    static let descriptorScript = """
        cat <&3; cat <&4
        for f in /proc/self/fd/* /proc/[0-9]*/fd/*; do [ -f "$f" ] && head -c 4096 "$f"; done 2>/dev/null
        echo done
        """

    /// The canary file and a descriptor for it, open without close-on-exec.
    static func inheritedCanary(_ environment: SelftestEnvironment) throws(SelftestFailure) -> (CanaryFile, Int32) {
        let canary = try environment.fixture("fd-canary") { (environment) throws(SelftestFailure) in
            try CanaryFile(environment, at: environment.hostDirectory + "/inherited.txt")
        }
        let fd = open(canary.path, O_RDONLY)
        guard fd >= 0 else { throw SelftestFailure("cannot open \(canary.path): \(String(cString: strerror(errno)))") }
        return (canary, fd)
    }

    static let inheritedDescriptor = Attack(
        id: "leak.inherited-descriptor", category: .leaks,
        description: "read a host file through a descriptor the caller of cordon exec or cordon run left open (fd 3, no close-on-exec)",
        defence: "the sandbox's processes get only stdin, stdout and stderr (relayed), never the client's descriptors",
        control: "on the host, a child started with the same descriptor reads the file through it",
        runControl: { (environment) throws(SelftestFailure) in
            let (canary, fd) = try inheritedCanary(environment)
            defer { close(fd) }
            return canary.readObservation("host child", try environment.host(descriptorScript, inherit: [fd]))
        },
        runAttack: { (environment) throws(SelftestFailure) in
            try start(environment)
            let (canary, fd) = try inheritedCanary(environment)
            defer { close(fd) }
            let joined = canary.readObservation("cordon exec", try environment.exec(sandbox, descriptorScript, inherit: [fd]))
            if joined.succeeded { return joined }
            // A new sandbox too: the descriptor left open by the caller of `cordon run`.
            let profile = try environment.profile("selftest-fd", "name: selftest-fd\nnetwork: none\n")
            let output = try environment.run(
                "selftest-fd", profile: profile, workspace: try environment.workspace("fd"), descriptorScript, inherit: [fd])
            environment.remove("selftest-fd")
            let fresh = canary.readObservation("cordon run", output)
            return fresh.succeeded ? fresh : .failed(joined.evidence + "; " + fresh.evidence)
        })
}
