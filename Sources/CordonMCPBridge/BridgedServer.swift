import CordonCore
import CordonSandbox
import CordonOS
import Glibc
import Synchronization

/// An MCP server started in a running sandbox (as `cordon exec` starts a command: same wire, same
/// guards) on pipes this process holds: `input` is the server's stdin, `output` its stdout. Its
/// stderr goes to this process's stderr, through the terminal filter of the sandbox's profile
/// when that is a terminal (as `cordon exec` shows a command's terminal output), else as it is.
/// Nothing here reads or changes what goes through `input` and `output`.
final class BridgedServer: Sendable {
    /// Write end of the server's stdin.
    let input: Int32
    /// Read end of the server's stdout.
    let output: Int32
    /// Closing it ends the server (the exec connection closes; the supervisor kills it).
    private let control: Int32
    /// Readable (its write end closed) once `status` is known.
    private let done: Int32
    /// Readable once the relay of a terminal stderr has passed on everything (nil: no relay).
    private let stderrDrained: Int32?
    private let outcome = Mutex<Result<Int32, CordonError>?>(nil)
    private let ended = Mutex(false)

    private init(input: Int32, output: Int32, control: Int32, done: Int32, stderrDrained: Int32?) {
        self.input = input
        self.output = output
        self.control = control
        self.done = done
        self.stderrDrained = stderrDrained
    }

    /// Starts `command` in the running sandbox `name` on a thread of its own and returns at once:
    /// `wait` gives its status (126/127 when it could not run, the reason said) or throws what
    /// kept it from starting (the sandbox stopped meanwhile, its socket unreachable).
    static func start(name: String, layout: SandboxLayout, command: ExecClient.Request, filter: TerminalFilter.Level) throws(CordonError)
        -> BridgedServer
    {
        let stdinPipe = try MCPBridge.pipe()
        let stdoutPipe = try MCPBridge.pipe()
        let controlPipe = try MCPBridge.pipe()
        let donePipe = try MCPBridge.pipe()
        // The host's terminal never enters the sandbox: a terminal stderr gets a pipe relayed
        // through the filter; anything else (a file, the client's pipe) is handed over as it is.
        let errorStream: Int32
        var stderrDrained: Int32?
        if Terminal.isTerminal(2) {
            let stderrPipe = try MCPBridge.pipe()
            let drained = try MCPBridge.pipe()
            errorStream = stderrPipe.write
            stderrDrained = drained.read
            let source = stderrPipe.read
            let relayed = OSThread.detached(stackSize: 256 * 1024) {
                _ = MCPBridge.copy(from: source, to: 2, filteredAt: filter)
                close(source)
                close(drained.write)
            }
            guard relayed else { throw CordonError(.systemCall, "cannot start the bridge's stderr relay thread") }
        } else {
            errorStream = fcntl(2, F_DUPFD_CLOEXEC, 3)
            if errorStream < 0 { throw CordonError(.systemCall, "cannot pass stderr to the server", cause: String(cString: strerror(errno))) }
        }
        let server = BridgedServer(
            input: stdinPipe.write, output: stdoutPipe.read, control: controlPipe.write, done: donePipe.read, stderrDrained: stderrDrained)
        let stdio = [stdinPipe.read, stdoutPipe.write, errorStream]
        let (controlRead, doneWrite) = (controlPipe.read, donePipe.write)
        let started = OSThread.detached(stackSize: 512 * 1024) {
            let result = Result { () throws(CordonError) -> Int32 in
                try ExecClient.run(name: name, layout: layout, command: command, stdio: stdio, control: controlRead)
            }
            server.outcome.withLock { $0 = result }
            close(controlRead)
            close(doneWrite)
        }
        guard started else {
            (stdio + [controlRead, doneWrite]).forEach { close($0) }
            throw CordonError(.systemCall, "cannot start the bridge's exec thread")
        }
        return server
    }

    /// Waits until the server has ended (or `timeout` seconds, then nil); its exit status.
    func wait(timeout: Double? = nil) throws(CordonError) -> Int32? {
        var watched = pollfd(fd: done, events: Int16(POLLIN), revents: 0)
        let deadline = timeout.map { WallClock.monotonic() + $0 }
        while true {
            let left = deadline.map { Int32(max(0, ($0 - WallClock.monotonic()) * 1000)) } ?? -1
            let rc = poll(&watched, 1, left)
            if rc < 0 && errno == EINTR { continue }
            if rc <= 0 { return nil }
            break
        }
        switch outcome.withLock({ $0 }) {
        case .success(let status): return status
        case .failure(let error): throw error
        case nil: return nil
        }
    }

    /// Waits (until `deadline`, monotonic) for the server's last stderr to have been shown.
    func stderrShown(by deadline: Double) {
        guard let stderrDrained else { return }
        MCPBridge.waitReadable(stderrDrained, until: deadline)
    }

    /// Ends the server now (a no-op once it has ended).
    func end() {
        let first = ended.withLock { ended in
            defer { ended = true }
            return !ended
        }
        if first { close(control) }
    }
}
