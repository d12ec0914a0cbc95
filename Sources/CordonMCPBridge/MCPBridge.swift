public import CordonCore
public import CordonSandbox
import CordonOS
import Glibc

/// `cordon mcp bridge`: an MCP server (a stdio one) run in a sandbox and relayed to the host, so
/// a host client runs it as if it were local while it lives under the sandbox's policy. The
/// bridge relays bytes: over stdio it never looks at them; over HTTP (`HTTPBridge`) it reads
/// only each message's `id` to answer the POST that sent the request.
public enum MCPBridge {
    /// Seconds a server has, after the host client closed its stdin, to exit on its own before
    /// the bridge ends it.
    public static let stdinGrace = 5.0

    /// Seconds the server's last output has to reach the host once it has exited (a process it
    /// left behind may hold its stdout open).
    static let drainGrace = 2.0

    /// Relays this process's stdin to the server's and the server's stdout to this process's,
    /// byte for byte, until the server ends; its exit status (as `cordon exec` gives it). The
    /// host client closing stdin closes the server's; a server still running `stdinGrace`
    /// seconds later is ended. A host stdout that is gone (the client went away) ends it too.
    public static func relayStdio(name: String, layout: SandboxLayout, command: ExecClient.Request, filter: TerminalFilter.Level)
        throws(CordonError) -> Int32
    {
        // A client gone away is an EPIPE on a write, not the end of this process.
        signal(SIGPIPE, SIG_IGN)
        let server = try BridgedServer.start(name: name, layout: layout, command: command, filter: filter)
        let drained = try pipe()
        let (input, output) = (server.input, server.output)
        // An MCP client reads stdout through a pipe; a terminal (someone trying the bridge by
        // hand) gets what the server wrote through the profile's filter, as its stderr does.
        let shownOnTerminal = Terminal.isTerminal(1) ? filter : nil
        let outputStarted = OSThread.detached(stackSize: 256 * 1024) {
            defer { close(drained.write) }
            if !copy(from: output, to: 1, filteredAt: shownOnTerminal) { server.end() }
        }
        guard outputStarted else {
            server.end()
            throw CordonError(.systemCall, "cannot start the bridge's relay thread")
        }
        let inputStarted = OSThread.detached(stackSize: 256 * 1024) {
            _ = copy(from: 0, to: input)
            close(input)
            // The client is done: the server should exit on its stdin's end; if it does not, end it.
            if (try? server.wait(timeout: stdinGrace)) == nil { server.end() }
        }
        if !inputStarted { server.end() }
        let status = try server.wait() ?? 125
        // The server's last replies (and words) reach the client before the bridge exits with
        // its status.
        let deadline = WallClock.monotonic() + drainGrace
        waitReadable(drained.read, until: deadline)
        server.stderrShown(by: deadline)
        return status
    }

    /// Waits until `fd` is readable (or its writers are gone) or `deadline` (monotonic) passes.
    static func waitReadable(_ fd: Int32, until deadline: Double) {
        var watched = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while poll(&watched, 1, Int32(max(0, (deadline - WallClock.monotonic()) * 1000))) < 0 && errno == EINTR {}
    }

    /// Copies `source` to `sink` until `source` ends (true) or a write fails (false); through a
    /// terminal filter at `level` when one is given (the sink is a terminal), byte for byte else.
    static func copy(from source: Int32, to sink: Int32, filteredAt level: TerminalFilter.Level? = nil) -> Bool {
        var filter = level.flatMap { $0 == .off ? nil : TerminalFilter(level: $0) }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let got = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { break }
            var bytes = Array(buffer[0..<got])
            if var terminal = filter {
                bytes = terminal.filter(bytes)
                filter = terminal
            }
            guard (try? FileIO.writeAll(fd: sink, bytes)) != nil else { return false }
        }
        if var terminal = filter { return (try? FileIO.writeAll(fd: sink, terminal.finish())) != nil }
        return true
    }

    /// A close-on-exec pipe.
    static func pipe() throws(CordonError) -> (read: Int32, write: Int32) {
        do throws(SystemError) {
            let pair = try FileDescriptor.pipe()
            let read = pair.first
            let write = pair.second
            return (read.take(), write.take())
        } catch {
            throw error.cordonError(.systemCall, "cannot make a pipe for the bridge")
        }
    }
}
