import CordonAudit
import CordonCore
import CordonIsolation
import CordonOS
import Glibc

/// The detached supervisor's side of `cordon exec`: a thread that accepts clients on
/// `<sandbox>/exec.sock` (mode 0600 in the user's own state directory), forwards each request
/// with the client's three stdio descriptors to init's exec channel, and relays what init
/// reports (started, exited, could not run) back. A client that goes away (`cordon exec` killed)
/// has its command killed. Init forks each command, so it runs inside every guard of the sandbox;
/// the host side only ever passes descriptors.
final class ExecService: Sendable {
    /// The supervisor's end of init's exec channel (owned by the service).
    private let channel: Int32
    private let socketPath: String
    private let sandbox: String
    private let events: JSONLinesWriter
    private let onReady: @Sendable () -> Void
    /// The sandbox's audit log: each command and its exit status.
    private let audit: AuditLog?

    init(
        channel: Int32, socketPath: String, sandbox: String, events: JSONLinesWriter, audit: AuditLog? = nil, onReady: @escaping @Sendable () -> Void
    ) throws(CordonError) {
        let own = fcntl(channel, F_DUPFD_CLOEXEC, 0)
        guard own >= 0 else { throw CordonError(.systemCall, "cannot keep init's exec channel", cause: String(cString: strerror(errno))) }
        self.channel = own
        self.socketPath = socketPath
        self.sandbox = sandbox
        self.events = events
        self.onReady = onReady
        self.audit = audit
    }

    func start() {
        _ = OSThread.start { [self] in serve() }
    }

    /// One connected `cordon exec`: its request's id with init, and its command line.
    private struct Client {
        var id: UInt32?
        var argv: [String] = []
        var audited: AuditLog.Exec?
    }

    private func serve() {
        defer { close(channel) }
        // Nothing is served before init says the sandbox is built.
        guard let first = try? DescriptorPassing.receive(over: channel, maxDescriptors: 0, capacity: 64),
            (try? ExecWire.decodeReply(first.message)) == .ready
        else { return }
        let listener: Int32
        do throws(CordonError) { listener = try DescriptorPassing.listen(at: socketPath, backlog: 16) } catch {
            Self.log("cordon: the exec socket could not start (\(error)); stopping the sandbox")
            stopSandbox()
            return
        }
        defer {
            unlink(socketPath)
            close(listener)
        }
        onReady()

        var clients: [Int32: Client] = [:]
        var byID: [UInt32: Int32] = [:]
        var nextID: UInt32 = 1
        defer {
            for fd in clients.keys {
                Self.send(.failed(id: 0, status: 125, message: "the sandbox stopped"), to: fd)
                close(fd)
            }
        }
        while true {
            var fds = [pollfd(fd: channel, events: Int16(POLLIN), revents: 0), pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
            let order = Array(clients.keys)
            fds += order.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if poll(&fds, nfds_t(fds.count), -1) < 0 { continue }
            // First: a closed client's descriptor number may be reused by an accept below.
            for (index, fd) in order.enumerated() where fds[index + 2].revents != 0 {
                // A client says nothing after its request: readable means it went away.
                guard let client = clients.removeValue(forKey: fd) else { continue }
                if let id = client.id {
                    byID.removeValue(forKey: id)
                    try? DescriptorPassing.send([], message: ExecWire.encode(.signal(id: id, signal: SIGKILL)), over: channel)
                    events.append(SandboxEvent(sandbox: sandbox, .exec(argv: client.argv, exit: 128 + Int(SIGKILL))))
                    if let audited = client.audited { audit?.execEnded(audited, status: 128 + Int(SIGKILL)) }
                }
                close(fd)
            }
            if fds[0].revents != 0 {
                guard let received = try? DescriptorPassing.receive(over: channel, maxDescriptors: 1, capacity: 64 * 1024),
                    !received.message.isEmpty
                else { return }  // init exited
                // A command's pty master comes with `started`: on to its client, never kept.
                defer { received.descriptors.forEach { close($0) } }
                guard let reply = try? ExecWire.decodeReply(received.message) else { continue }
                switch reply {
                case .ready: break
                case .started(let id, _):
                    if let fd = byID[id] { Self.send(reply, to: fd, attaching: received.descriptors) }
                case .exited(let id, let status), .failed(let id, let status, _):
                    guard let fd = byID.removeValue(forKey: id) else { continue }
                    events.append(SandboxEvent(sandbox: sandbox, .exec(argv: clients[fd]?.argv ?? [], exit: Int(status))))
                    if let audited = clients[fd]?.audited { audit?.execEnded(audited, status: Int(status)) }
                    Self.send(reply, to: fd)
                    clients.removeValue(forKey: fd)
                    close(fd)
                }
            }
            if fds[1].revents != 0, let fd = DescriptorPassing.acceptOwnUser(listener, receiveTimeout: 5) {
                switch readRequest(fd) {
                case .exec(_, let argv, let environment, let directory, let terminal, let windowSize, let stdio):
                    let id = nextID
                    nextID &+= 1
                    let request = ExecWire.Request.exec(
                        id: id, argv: argv, environment: environment, directory: directory, terminal: terminal, windowSize: windowSize)
                    do throws(CordonError) {
                        try DescriptorPassing.send(stdio, message: ExecWire.encode(request), over: channel)
                        clients[fd] = Client(id: id, argv: argv, audited: audit?.execStarted(argv: argv, via: "exec"))
                        byID[id] = fd
                    } catch {
                        Self.send(.failed(id: 0, status: 125, message: "the sandbox is stopping"), to: fd)
                        close(fd)
                    }
                    stdio.forEach { close($0) }
                case .stop:
                    clients[fd] = Client()
                    stopSandbox()
                case .invalid(let message):
                    Self.send(.failed(id: 0, status: 125, message: message), to: fd)
                    close(fd)
                }
            }
        }
    }

    private enum Incoming {
        case exec(id: UInt32, argv: [String], environment: [String], directory: String, terminal: UInt8, windowSize: UInt32, stdio: [Int32])
        case stop
        case invalid(String)
    }

    /// The one framed request a client sends (an exec comes with its three stdio descriptors).
    private func readRequest(_ fd: Int32) -> Incoming {
        guard let first = try? DescriptorPassing.receive(over: fd, maxDescriptors: 3, capacity: 4 + ExecWire.maxRequestBytes) else {
            return .invalid("no request")
        }
        var bytes = first.message
        let fail = { (message: String) -> Incoming in
            first.descriptors.forEach { close($0) }
            return .invalid(message)
        }
        guard bytes.count >= 4 else { return fail("a truncated request") }
        let length = ExecWire.frameLength(bytes)
        guard length <= ExecWire.maxRequestBytes else { return fail("the command and its environment exceed \(ExecWire.maxRequestBytes) bytes") }
        while bytes.count < 4 + length {
            var chunk = [UInt8](repeating: 0, count: 4 + length - bytes.count)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return fail("a truncated request") }
            bytes += chunk.prefix(n)
        }
        let request: ExecWire.Request
        do throws(ExecWire.DecodeError) { request = try ExecWire.decodeRequest(Array(bytes.dropFirst(4))) } catch { return fail(error.description) }
        switch request {
        case .exec(let id, let argv, let environment, let directory, let terminal, let windowSize):
            guard first.descriptors.count == 3 else { return fail("an exec request without its three stdio descriptors") }
            guard !argv.isEmpty else { return fail("an exec request without a command") }
            guard directory.isEmpty || directory.hasPrefix("/") else { return fail("the working directory must be absolute: \(directory)") }
            return .exec(
                id: id, argv: argv, environment: environment, directory: directory, terminal: terminal, windowSize: windowSize, stdio: first.descriptors)
        case .stop:
            first.descriptors.forEach { close($0) }
            return .stop
        case .signal:
            return fail("a client may not signal commands by id")
        }
    }

    /// Asks init to end every process of the sandbox and exit (`cordon down`).
    private func stopSandbox() {
        try? DescriptorPassing.send([], message: ExecWire.encode(.stop), over: channel)
    }

    private static func send(_ reply: ExecWire.Reply, to fd: Int32, attaching descriptors: [Int32] = []) {
        try? DescriptorPassing.send(descriptors, message: ExecWire.frame(ExecWire.encode(reply)), over: fd)
    }

    private static func log(_ text: String) {
        let line = text + "\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }
}
