public import CordonOS
import Glibc

/// PID 1 inside the sandbox: starts the command, forwards signals to it, reaps every orphan,
/// and exits with the command's status (128 + signal when it was killed).
public struct AgentSupervisor {
    public let plan: SandboxPlan

    public init(plan: SandboxPlan) { self.plan = plan }

    /// Signals cordon passes on to the command.
    static let forwarded: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH]

    public enum LaunchError: Error {
        case notFound(String)
        case system(SystemError)
    }

    /// Resolves the command on the sandbox's PATH, as execvp would (nil: see `resolveCommand`).
    public func resolveExecutable() -> String? {
        try? resolveCommand().get()
    }

    /// The command's executable, or why there is none: 127 when nothing by that name exists in
    /// the sandbox, 126 when something does but cannot be run (said which). A name with a slash
    /// is a path (relative ones from the working directory); one without is searched on PATH,
    /// where, as in a shell, a file that is there but not executable is reported when no
    /// executable one comes after it.
    public func resolveCommand() -> Result<String, LaunchFailure> {
        Self.resolveCommand(plan.command.first ?? "", environment: plan.environment, workingDirectory: plan.workingDirectory)
    }

    /// The same for any command (`cordon exec`'s too): `name` as given, the PATH of
    /// `environment` (its last PATH entry wins, as the exec's own `-e PATH=` would), relative
    /// paths from `workingDirectory`.
    static func resolveCommand(_ name: String, environment: [String], workingDirectory: String) -> Result<String, LaunchFailure> {
        guard !name.isEmpty else {
            return .failure(LaunchFailure(status: LaunchFailure.notFound, command: "", reason: "command not found (empty command name)"))
        }
        if name.contains("/") {
            let path = name.hasPrefix("/") ? name : workingDirectory + "/" + name
            if let failure = Self.problem(running: path, named: name) { return .failure(failure) }
            return .success(name)
        }
        let searched = environment.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) } ?? "/usr/local/bin:/usr/bin:/bin"
        var unusable: LaunchFailure?
        for dir in searched.split(separator: ":", omittingEmptySubsequences: true) {
            let candidate = dir + "/" + name
            var st = stat()
            guard stat(candidate, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { continue }
            guard let failure = Self.problem(running: candidate, named: candidate) else { return .success(candidate) }
            unusable = unusable ?? failure
        }
        return .failure(
            unusable ?? LaunchFailure(status: LaunchFailure.notFound, command: name, reason: "command not found on the sandbox's PATH (\(searched))"))
    }

    /// Why `path` cannot be executed (nil: it can), as `named` in the message.
    static func problem(running path: String, named: String) -> LaunchFailure? {
        func failure(_ status: Int32, _ reason: String) -> LaunchFailure { LaunchFailure(status: status, command: named, reason: reason) }
        var st = stat()
        guard stat(path, &st) == 0 else {
            let code = errno
            switch code {
            case ENOENT, ENOTDIR: return failure(LaunchFailure.notFound, "no such file or directory in the sandbox")
            case EACCES: return failure(LaunchFailure.cannotRun, "permission denied (a directory on its path may not be searched)")
            default: return failure(LaunchFailure.cannotRun, String(cString: strerror(code)))
            }
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: return failure(LaunchFailure.cannotRun, "is a directory, not a program")
        default: return failure(LaunchFailure.cannotRun, "is not a regular file, so it cannot be run")
        }
        if access(path, X_OK) == 0 { return nil }
        let mode = String(st.st_mode & 0o7777, radix: 8)
        if st.st_mode & 0o111 == 0 {
            return failure(
                LaunchFailure.cannotRun,
                "permission denied: the file is not executable (mode \(mode)); make it executable (chmod +x) or run it with its interpreter (e.g. sh, python3)")
        }
        return failure(
            LaunchFailure.cannotRun,
            "permission denied (mode \(mode): not executable by the sandbox's user, or its file system does not allow running programs)")
    }

    /// Starts the command and supervises until it exits; never returns.
    public func run(executable: String) -> Never {
        var mask = sigset_t()
        sigemptyset(&mask)
        for sig in Self.forwarded + [SIGCHLD] { sigaddset(&mask, sig) }
        // A handler (never called: the signals stay blocked) marks them as handled, so the
        // kernel delivers them to PID 1 instead of dropping them.
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        for sig in Self.forwarded + [SIGCHLD] { sigaction(sig, &action, nil) }
        var previous = sigset_t()
        sigprocmask(SIG_BLOCK, &mask, &previous)

        // Init must not be inspectable from inside (/proc/1: its memory map, descriptors,
        // environment): made non-dumpable before the command exists, so there is no moment
        // when the command could read it. The command's own execve makes it dumpable again.
        do { try Hardening.setDumpable(false) } catch {
            let message = "cordon: cannot make init non-dumpable: \(error)\n"
            _ = message.withCString { write(2, $0, strlen($0)) }
            _exit(SandboxPlan.setupFailedStatus)
        }

        let argv = plan.command
        let env = plan.environment
        let child = fork()
        if child == 0 {
            var dfl = sigaction()
            dfl.__sigaction_handler.sa_handler = SIG_DFL
            for sig in Self.forwarded + [SIGCHLD] { sigaction(sig, &dfl, nil) }
            sigprocmask(SIG_SETMASK, &previous, nil)
            setsid()
            // The pty (whichever of 0, 1, 2 it is; the others may be pipes or files) becomes the
            // controlling terminal of the command's new session, so /dev/tty is the pty.
            if plan.terminal, let tty = (Int32(0)..<3).first(where: { isatty($0) == 1 }) {
                Exec.setControllingTerminal(tty)
                tcsetpgrp(tty, getpid())
            }
            if chdir(plan.workingDirectory) != 0 { _ = chdir("/") }
            let failure = Exec.replaceImage(executable, arguments: argv, environment: env)
            let message = "cordon: cannot run \(argv[0]): \(failure.errnoText)\n"
            _ = message.withCString { write(2, $0, strlen($0)) }
            _exit(126)
        }
        if child < 0 {
            let message = "cordon: fork failed: \(SystemError.current("fork").errnoText)\n"
            _ = message.withCString { write(2, $0, strlen($0)) }
            _exit(SandboxPlan.setupFailedStatus)
        }

        var exitStatus: Int32 = 0
        var agentDone = false
        while true {
            var info = siginfo_t()
            let sig = sigwaitinfo(&mask, &info)
            if sig < 0 { continue }
            if sig == SIGCHLD {
                while true {
                    var status: Int32 = 0
                    let pid = waitpid(-1, &status, WNOHANG)
                    if pid <= 0 { break }
                    if pid == child {
                        agentDone = true
                        exitStatus = Self.exitCode(status)
                    }
                }
                if agentDone {
                    // The command is gone: end whatever it left behind, then leave.
                    kill(-1, SIGKILL)
                    while waitpid(-1, nil, 0) > 0 {}
                    _exit(exitStatus)
                }
            } else if !agentDone {
                // With a terminal the command leads its own process group: signal all of it.
                kill(plan.terminal ? -child : child, sig)
            }
        }
    }

    static func exitCode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        if signal == 0 { return (status >> 8) & 0xff }
        return 128 + signal
    }
}
