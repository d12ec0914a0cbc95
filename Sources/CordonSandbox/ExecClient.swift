public import CordonConfig
public import CordonCore
import CordonIsolation
import CordonOS
import Glibc

/// `cordon exec`'s side: asks a sandbox's detached supervisor (`<sandbox>/exec.sock`) to run a
/// command and hands it this process's stdio. When a standard stream is a terminal (or `-t`),
/// the command gets a pty's slave instead and this process relays the user's terminal through
/// the same filter `cordon run` uses (raw mode, resize, modes put back): the user's own
/// terminal never enters the sandbox. Ending this process ends the command.
public enum ExecClient {
    public struct Request: Sendable {
        public var argv: [String]
        /// `KEY=VALUE`, added to the sandbox's environment.
        public var environment: [String]
        /// Absolute; nil: the sandbox's working directory (its workspace).
        public var directory: String?
        /// A pty even when no standard stream is a terminal.
        public var terminal: Bool
        public var filter: TerminalFilter.Level

        public init(argv: [String], environment: [String], directory: String?, terminal: Bool, filter: TerminalFilter.Level = .standard) {
            self.argv = argv
            self.environment = environment
            self.directory = directory
            self.terminal = terminal
            self.filter = filter
        }
    }

    /// Signals that end the client (and so the command).
    static let ending: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]

    /// Connects to the running sandbox; `SandboxLookup`'s errors when it is unknown or stopped.
    static func connect(name: String, layout: SandboxLayout) throws(CordonError) -> FileDescriptor {
        do throws(SystemError) { return try UnixSocket.connect(layout.execSocket) } catch {
            guard error.errno == ENOENT || error.errno == ECONNREFUSED else { throw error.cordonError(.io, "cannot reach sandbox \(name)") }
            _ = try SandboxLookup.existing(layout, name: name)
            throw SandboxLookup.notRunning(name)
        }
    }

    /// Runs the request; the command's exit status (126/127 when it could not run).
    public static func run(name: String, layout: SandboxLayout, request: Request) throws(CordonError) -> Int32 {
        let connection = try connect(name: name, layout: layout)
        let socket = connection.raw
        let hostTerminal = HostTerminal()
        defer { hostTerminal.restore() }
        // The streams that are terminals (all three with -t and none is) get a pty that init
        // opens inside the sandbox (its own devpts, so `tty` names it) and whose master comes
        // back; the others are passed as they are (`echo task | cordon exec …` at a terminal).
        // Nothing of the user's terminal enters: /dev/null stands in for those streams.
        let streams = hostTerminal.any ? hostTerminal.streams : [request.terminal, request.terminal, request.terminal]
        let terminal = streams.contains(true)
        let mask = streams.enumerated().reduce(UInt8(0)) { $0 | ($1.element ? 1 << UInt8($1.offset) : 0) }
        let null = terminal ? open("/dev/null", O_RDWR | O_CLOEXEC) : -1
        defer { if null >= 0 { close(null) } }
        // The pty is made the size of the user's terminal before the command starts.
        let size = (Int32(0)..<3).first { hostTerminal.streams[Int($0)] }.flatMap { try? Terminal.windowSize(of: $0) }
        let message = ExecWire.Request.exec(
            id: 0, argv: request.argv, environment: request.environment, directory: request.directory ?? "", terminal: mask,
            windowSize: size?.packed ?? 0)
        let stdio = (Int32(0)..<3).map { streams[Int($0)] ? null : $0 }
        do throws(CordonError) {
            try DescriptorPassing.send(stdio, message: ExecWire.frame(ExecWire.encode(message)), over: socket)
        } catch {
            throw CordonError(.io, "cannot hand the command to sandbox \(name)", cause: error.cause ?? error.message)
        }
        var replies = Replies(socket: socket)
        // Until the command runs: its pty's master comes with `started`.
        while true {
            guard let (reply, fds) = try replies.next(blocking: true) else { continue }
            switch reply {
            case .ready: continue
            case .started:
                let master = fds.first
                fds.dropFirst().forEach { close($0) }
                if terminal && master == nil { throw CordonError(.io, "sandbox \(name) started the command without its pty") }
                defer { if let master { close(master) } }
                let sizeSource = (Int32(0)..<3).first { hostTerminal.streams[Int($0)] }
                if let master, let sizeSource, let size = try? Terminal.windowSize(of: sizeSource) { try? Terminal.setWindowSize(master, size) }
                // As `run`: typing reaches the pty when stdin is one of its streams; its output goes
                // to stdout when that is, else stderr, else stdin when open for writing (the echo).
                let output: Int32? = streams[1] ? 1 : streams[2] ? 2 : streams[0] && Terminal.isReadWrite(0) ? 0 : nil
                let relay = master.map { SupervisorPoll.Relay(master: $0, input: streams[0] ? 0 : nil, output: output, sizeSource: sizeSource) }
                return try Self.relay(replies: &replies, relay: relay, rawInput: hostTerminal.streams[0], filterLevel: request.filter)
            case .exited(_, let status):
                fds.forEach { close($0) }
                return status
            case .failed(_, let status, let text):
                fds.forEach { close($0) }
                say(text)
                return status
            }
        }
    }

    /// The supervisor's framed replies on the connection, with the descriptors that came along.
    struct Replies {
        let socket: Int32
        var buffer: [UInt8] = []
        var descriptors: [Int32] = []

        /// The next whole reply; nil when none is there yet (`blocking` false). Throws at EOF.
        mutating func next(blocking: Bool) throws(CordonError) -> (ExecWire.Reply, [Int32])? {
            while buffer.count < 4 || buffer.count < 4 + ExecWire.frameLength(buffer) {
                if !blocking {
                    var probe = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
                    guard poll(&probe, 1, 0) > 0 else { return nil }
                }
                let received: DescriptorPassing.Received
                do throws(CordonError) { received = try DescriptorPassing.receive(over: socket, maxDescriptors: 1, capacity: 4096) } catch {
                    throw CordonError(.io, "lost the connection to the sandbox's supervisor", cause: error.cause ?? error.message)
                }
                if received.message.isEmpty { throw CordonError(.io, "the sandbox stopped before the command ended") }
                buffer += received.message
                descriptors += received.descriptors
            }
            let length = ExecWire.frameLength(buffer)
            let body = Array(buffer[4..<(4 + length)])
            buffer.removeFirst(4 + length)
            let fds = descriptors
            descriptors = []
            do throws(ExecWire.DecodeError) { return (try ExecWire.decodeReply(body), fds) } catch {
                fds.forEach { close($0) }
                throw CordonError(.io, "the sandbox's supervisor sent \(error)")
            }
        }
    }

    /// Relays the pty (if any) until the supervisor reports the command's end.
    private static func relay(
        replies: inout Replies, relay: SupervisorPoll.Relay?, rawInput: Bool, filterLevel: TerminalFilter.Level
    ) throws(CordonError) -> Int32 {
        let signals = try SignalPipe.install(ending + [SIGWINCH])
        let raw = relay != nil && rawInput ? try? Terminal.makeRaw(0) : nil
        let relayFilter = relay != nil && filterLevel != .off ? RelayFilter(level: filterLevel) : nil
        defer {
            if let relayFilter {
                // Undo the modes the command left on (mouse, alternate screen, hidden cursor…).
                let reset = relayFilter.terminalFilter.finish()
                _ = reset.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
            }
            if let raw { try? Terminal.restore(0, to: raw) }
            SignalPipe.reset(ending + [SIGWINCH])
            close(signals)
        }
        // No process to watch from here (the command is init's child): the socket says when it ends.
        let poll = SupervisorPoll(pidfd: -1, signals: nil, relay: relay, filter: relayFilter, tick: nil)
        while true {
            _ = try poll.wait(wake: [signals, replies.socket])
            var bytes = [UInt8](repeating: 0, count: 64)
            let got = bytes.withUnsafeMutableBytes { read(signals, $0.baseAddress, $0.count) }
            for sig in bytes.prefix(max(got, 0)).map(Int32.init) {
                if sig == SIGWINCH, let relay, let source = relay.sizeSource, let size = try? Terminal.windowSize(of: source) {
                    try? Terminal.setWindowSize(relay.master, size)
                } else if ending.contains(sig) {
                    // Closing the socket makes the supervisor kill the command.
                    return 128 + sig
                }
            }
            while let (reply, fds) = try replies.next(blocking: false) {
                fds.forEach { close($0) }
                switch reply {
                case .ready, .started: continue
                case .exited(_, let status):
                    drain(relay: relay, filter: relayFilter)
                    return status
                case .failed(_, let status, let text):
                    drain(relay: relay, filter: relayFilter)
                    say(text)
                    return status
                }
            }
        }
    }

    static func say(_ text: String) {
        let line = "cordon: \(TerminalText.escaped(text))\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }

    /// What the command left in the pty, relayed before returning (the wait drains the pty when
    /// its process descriptor is readable: here a pipe that already is).
    private static func drain(relay: SupervisorPoll.Relay?, filter: RelayFilter?) {
        guard relay != nil, let pair = try? FileDescriptor.pipe() else { return }
        let readable = pair.first
        let writer = pair.second
        try? writer.writeAll([1])
        _ = try? SupervisorPoll(pidfd: readable.raw, signals: nil, relay: relay, filter: filter, tick: nil).wait()
    }
}

extension ExecClient {
    /// `cordon down`: asks the supervisor to stop the sandbox and waits until init has exited
    /// (the supervisor closes the connection then; its own clean-up follows).
    public static func stop(name: String, layout: SandboxLayout) throws(CordonError) {
        let connection = try connect(name: name, layout: layout)
        do throws(CordonError) {
            try DescriptorPassing.send([], message: ExecWire.frame(ExecWire.encode(.stop)), over: connection.raw)
        } catch {
            throw CordonError(.io, "cannot ask sandbox \(name) to stop", cause: error.cause ?? error.message)
        }
        var byte: UInt8 = 0
        while read(connection.raw, &byte, 1) > 0 || errno == EINTR {}
    }
}
