import CordonCore
import CordonOS
public import Glibc

/// Where the attacks run: a temporary root holding the HOME, XDG config and state directories,
/// workspaces and host-side canaries the runs use (so the user's own sandboxes, profiles and
/// state are never touched), the cordon executable, and the sandboxes started so far. `cleanup()`
/// downs and removes every sandbox and deletes the tree; the runner calls it on every way out.
public final class SelftestEnvironment {
    /// The temporary root (`/tmp/cordon-selftest-XXXXXX`).
    public let root: String
    /// The cordon executable the runs use.
    public let cordon: String
    /// The HOME the runs give cordon: it stands for the user's home.
    public var home: String { root + "/home" }
    public var configHome: String { root + "/config" }
    public var stateHome: String { root + "/state" }
    /// cordon's own state directory for these runs.
    public var cordonState: String { stateHome + "/cordon" }
    /// Host-side files outside every workspace (canaries, images).
    public var hostDirectory: String { root + "/host" }
    /// The variables every run of cordon gets beside the inherited ones (the env-leak canary).
    public private(set) var extraEnvironment: [String: String] = [:]
    /// A pipe that turns readable when cordon-selftest is interrupted (SIGINT/SIGTERM); -1: none.
    public let interrupt: Int32

    private var started: [String] = []
    private var sharedStarts: [String: String] = [:]
    private var cleanups: [() -> Void] = []
    private var fixtures: [String: Any] = [:]
    private var cleaned = false

    /// Makes the temporary tree. `cordon`: the executable to run (default: `$CORDON`, else the
    /// `cordon` beside this executable).
    public init(cordon: String? = nil, interrupt: Int32 = -1) throws(SelftestFailure) {
        if let cordon { self.cordon = cordon } else { self.cordon = try Self.locateCordon() }
        self.interrupt = interrupt
        var template = Array("/tmp/cordon-selftest-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer -> String? in
            guard let base = buffer.baseAddress, let dir = mkdtemp(base) else { return nil }
            return String(cString: dir)
        }
        guard let made else { throw SelftestFailure("cannot make a temporary directory in /tmp: \(String(cString: strerror(errno)))") }
        root = made
        // The home is world-readable, as homes usually are: masking, not its mode, must hide
        // its secrets from a sandbox that mounts it.
        for (dir, mode) in [(home, 0o755), (configHome, 0o700), (stateHome, 0o700), (hostDirectory, 0o755)] as [(String, mode_t)] {
            do { try FileIO.makeDirectories(dir, mode: mode) } catch { throw SelftestFailure("cannot make \(dir): \(error)") }
            _ = chmod(dir, mode)
        }
    }

    deinit { cleanup() }

    /// `$CORDON`, else the `cordon` beside this executable.
    static func locateCordon() throws(SelftestFailure) -> String {
        if let given = ProcessEnvironment.current["CORDON"], !given.isEmpty {
            guard access(given, X_OK) == 0 else { throw SelftestFailure("CORDON=\(given) is not an executable") }
            return given
        }
        if let exe = FileIO.readLink("/proc/self/exe"), let slash = exe.lastIndex(of: "/") {
            let beside = String(exe[..<slash]) + "/cordon"
            if access(beside, X_OK) == 0 { return beside }
            throw SelftestFailure("cordon not found beside \(exe) (set CORDON to its path)")
        }
        throw SelftestFailure("cannot find the cordon executable (set CORDON to its path)")
    }

    // MARK: - Runs

    /// The environment of every run: this process's, with HOME and the XDG directories in the
    /// temporary root, and the extra variables.
    public var environment: [String] {
        var env = ProcessEnvironment.current
        env["HOME"] = home
        env["XDG_CONFIG_HOME"] = configHome
        env["XDG_STATE_HOME"] = stateHome
        env["XDG_RUNTIME_DIR"] = nil
        // Nothing of the caller's that would change what cordon does with these runs.
        env["CORDON_PASSPHRASE_FD"] = nil
        for key in env.keys where key.hasPrefix("CORDON_FLAG_ENV_") { env[key] = nil }
        if env["PATH"] == nil { env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" }
        for (key, value) in extraEnvironment { env[key] = value }
        return env.map { $0.key + "=" + $0.value }.sorted()
    }

    /// Adds a variable to the environment of every later run.
    public func setEnvironment(_ name: String, _ value: String) { extraEnvironment[name] = value }

    /// `cordon ARGUMENTS…` in `directory` (default: the root).
    public func cordon(_ arguments: [String], directory: String? = nil, timeout: Double = 120, inherit: [Int32] = []) throws(SelftestFailure)
        -> ProcessOutput
    {
        try ProcessRun.run(
            [cordon] + arguments, environment: environment, directory: directory ?? root, timeout: timeout, inherit: inherit, interrupt: interrupt)
    }

    /// `sh -c SCRIPT` on the host, as this process (a control's run).
    public func host(_ script: String, timeout: Double = 60, inherit: [Int32] = []) throws(SelftestFailure) -> ProcessOutput {
        try ProcessRun.run(["/bin/sh", "-c", script], environment: environment, directory: root, timeout: timeout, inherit: inherit, interrupt: interrupt)
    }

    // MARK: - Files

    /// A random marker (`CANARY-` and 24 hex digits) that appears nowhere unless a run put it there.
    public func marker(_ label: String = "CANARY") -> String {
        // The system generator (getrandom(2)).
        let bytes = (0..<12).map { _ in UInt8.random(in: 0...255) }
        return label + "-" + bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// Writes `text` at `path` (directories made as needed).
    public func write(_ path: String, _ text: String, mode: mode_t = 0o644) throws(SelftestFailure) {
        if let slash = path.lastIndex(of: "/") {
            do { try FileIO.makeDirectories(String(path[..<slash])) } catch { throw SelftestFailure("cannot make the directory of \(path): \(error)") }
        }
        do { try FileIO.writeFile(path, Array(text.utf8), mode: mode) } catch { throw SelftestFailure("cannot write \(path): \(error)") }
    }

    /// The text of `path`, nil when it cannot be read.
    public func read(_ path: String) -> String? {
        (try? FileIO.readFile(path, limit: 1 << 20)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// A fresh workspace directory `<root>/ws-NAME`.
    public func workspace(_ name: String) throws(SelftestFailure) -> String {
        let path = root + "/ws-" + name
        do { try FileIO.makeDirectories(path) } catch { throw SelftestFailure("cannot make \(path): \(error)") }
        return path
    }

    /// Writes a test profile (YAML) `<root>/profiles/NAME.yaml` and returns its path.
    public func profile(_ name: String, _ yaml: String) throws(SelftestFailure) -> String {
        let path = root + "/profiles/" + name + ".yaml"
        try write(path, yaml)
        return path
    }

    /// The fixture named `key`, made once by `make` and shared by the runs that ask for it (a
    /// control and its attack see the same canary). A make that failed is retried.
    public func fixture<T>(_ key: String, _ make: (SelftestEnvironment) throws(SelftestFailure) -> T) throws(SelftestFailure) -> T {
        if let made = fixtures[key] as? T { return made }
        let made = try make(self)
        fixtures[key] = made
        return made
    }

    /// Runs `body` at cleanup (before the tree is removed): a loop device to detach, a process to end.
    public func atCleanup(_ body: @escaping () -> Void) { cleanups.append(body) }

    // MARK: - Sandboxes

    /// `cordon up --name NAME --workspace WORKSPACE --profile PROFILE [extra]`; the sandbox is
    /// downed and removed at cleanup.
    public func up(_ name: String, profile: String, workspace: String, extra: [String] = []) throws(SelftestFailure) {
        started.append(name)
        let output = try cordon(["up", "--name", name, "--workspace", workspace, "--profile", profile] + extra, directory: workspace)
        guard output.status == 0 else { throw SelftestFailure("cannot start sandbox \(name): \(output.summary)") }
    }

    /// The sandbox named `key`, started once by `start` and shared by the attacks that ask for it
    /// (attacks that cannot affect each other). A start that failed fails every later ask too.
    public func shared(_ key: String, start: (SelftestEnvironment) throws(SelftestFailure) -> Void) throws(SelftestFailure) -> String {
        if let state = sharedStarts[key] {
            if state.isEmpty { return key }
            throw SelftestFailure(state)
        }
        do throws(SelftestFailure) {
            try start(self)
            sharedStarts[key] = ""
            return key
        } catch {
            sharedStarts[key] = error.description
            throw error
        }
    }

    /// The line every script run in a sandbox ends with: its absence means the script did not
    /// run to its end (the sandbox was gone, the run timed out), and the attack proves nothing.
    static let sentinel = "cordon-selftest: script ran to its end"

    /// `SCRIPT`, then the sentinel line.
    /// `unshare FLAGS` for a control's run on the host; run by an ordinary user, with a user
    /// namespace of its own too (`-r`), which gives the control the same power over the new
    /// namespaces that root has.
    static func unshare(_ flags: String) -> String { getuid() == 0 ? "unshare \(flags)" : "unshare -r \(flags)" }

    /// A command run in the network namespace of process `pid`, for a control. Run by an
    /// ordinary user, the namespace's owner is a rootless sandbox's user namespace (the user
    /// owns it), which may hold no process to name: the owner is asked of the namespace itself
    /// (`NS_GET_USERNS`) and entered first, then the namespace.
    static func inNetworkNamespace(of pid: Int32) -> String {
        guard getuid() != 0 else { return "nsenter -t \(pid) -n" }
        return "python3 -c \(Shell.quote(enterOwnedNamespace)) \(pid) net"
    }

    /// `python3 -c … PID KIND COMMAND…`: enters the user namespace that owns process PID's KIND
    /// namespace, then that namespace, then runs COMMAND.
    static let enterOwnedNamespace = """
        import ctypes, fcntl, os, sys
        pid, kind, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open("/proc/%s/ns/%s" % (pid, kind), os.O_RDONLY)
        owner = fcntl.ioctl(fd, 0xB701)  # NS_GET_USERNS
        for target, what in ((owner, "its user namespace"), (fd, kind)):
            if libc.setns(target, 0) != 0:
                sys.exit("cannot enter %s of %s: %s" % (what, pid, os.strerror(ctypes.get_errno())))
        os.execvp(argv[0], argv)
        """

    static func sentinelled(_ script: String) -> String { script + "\necho '" + sentinel + "'\n" }

    /// The output of a sandboxed script, the sentinel line taken out; throws when it is missing.
    static func checked(_ output: ProcessOutput, _ what: String) throws(SelftestFailure) -> ProcessOutput {
        guard !output.timedOut, let range = output.stdout.ranges(of: sentinel + "\n").last else {
            throw SelftestFailure("the script did not run to its end in \(what) (\(output.summary))")
        }
        var trimmed = output
        trimmed.stdout.removeSubrange(range)
        return trimmed
    }

    /// `cordon exec NAME -- sh -c SCRIPT`; throws when the script did not run to its end.
    public func exec(_ name: String, _ script: String, timeout: Double = 60, inherit: [Int32] = []) throws(SelftestFailure) -> ProcessOutput {
        try Self.checked(
            cordon(["exec", name, "--", "/bin/sh", "-c", Self.sentinelled(script)], timeout: timeout, inherit: inherit), "sandbox \(name)")
    }

    /// `cordon run [OPTIONS] -- sh -c SCRIPT` (a one-shot sandbox, removed at cleanup).
    public func run(
        _ name: String, profile: String, workspace: String, options: [String] = [], _ script: String, timeout: Double = 120, inherit: [Int32] = []
    ) throws(SelftestFailure) -> ProcessOutput {
        started.append(name)
        let output = try cordon(
            ["run", "--name", name, "--workspace", workspace, "--profile", profile] + options + ["--", "/bin/sh", "-c", Self.sentinelled(script)],
            directory: workspace, timeout: timeout, inherit: inherit)
        return try Self.checked(output, "sandbox \(name)")
    }

    /// The upper layer of sandbox `name`'s workspace, on the host.
    public func upper(_ name: String) -> String { cordonState + "/sandboxes/" + name + "/upper" }

    /// `cordon down NAME` and `cordon rm --discard NAME`.
    public func remove(_ name: String) {
        _ = try? ProcessRun.run([cordon, "down", name], environment: environment, directory: root, timeout: 60)
        _ = try? ProcessRun.run([cordon, "rm", "--discard", name], environment: environment, directory: root, timeout: 60)
        started.removeAll { $0 == name }
    }

    /// Downs and removes every sandbox started, runs the cleanups, removes the temporary tree.
    /// Not interruptible; safe to call more than once.
    public func cleanup() {
        guard !cleaned else { return }
        cleaned = true
        for name in started.reversed() { remove(name) }
        for body in cleanups.reversed() { body() }
        _ = try? ProcessRun.run(["/bin/rm", "-rf", "--one-file-system", root], environment: ["PATH=/usr/bin:/bin"], timeout: 120)
    }

    /// Names of the sandboxes still known to cordon in this root (`cordon ls` sees them).
    public var startedSandboxes: [String] { started }

    /// Whether `python3` is on the host's PATH (the attacks that need it are invalid without it).
    public var hasPython: Bool { (try? host("command -v python3 >/dev/null 2>&1"))?.status == 0 }
}
