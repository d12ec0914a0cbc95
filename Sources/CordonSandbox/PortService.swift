import CordonAudit
import CordonCore
import CordonOS
import Glibc
import Synchronization

/// The supervisor's side of `cordon port` for a sandbox brought up: a thread that serves
/// `<sandbox>/port.sock` (mode 0600 in the user's 0700 state directory; peers of another user
/// are refused) and the forwards' host listeners, all in one `poll`. Each forward listens on
/// 127.0.0.1:HOSTPORT (and [::1]:HOSTPORT where the host has IPv6 loopback) only; `PortRelay` carries its connections into the sandbox. The forwards
/// are written to `<sandbox>/ports.json` for `cordon status`, audited when added and removed, and
/// end with the sandbox (init's exit, `stop`) or the supervisor's process.
///
/// The socket speaks one JSON line each way (`PortWire`).
final class PortService: Sendable {
    /// Forwards a sandbox holds at most.
    static let forwardLimit = 64

    private let name: String
    private let layout: SandboxLayout
    private let audit: AuditLog?
    private let relay: PortRelay
    /// Readable when init has exited (a duplicate of its pidfd, owned here).
    private let initExit: Int32
    private let wake: (read: Int32, write: Int32)
    private let done: (read: Int32, write: Int32)
    private let listener: Int32

    /// Binds `port.sock` and holds init's network namespace (init is the caller's unreaped child,
    /// so its pid is its own). Throws when either cannot be had: the sandbox runs on without
    /// forwards (the caller says so).
    init(name: String, layout: SandboxLayout, initPID: Int32, initPidfd: Int32, audit: AuditLog?, log: @escaping @Sendable (String) -> Void)
        throws(CordonError)
    {
        self.name = name
        self.layout = layout
        self.audit = audit
        let namespace: NetworkNamespace
        do throws(SystemError) { namespace = try NetworkNamespace(processID: initPID) } catch {
            throw error.cordonError(.systemCall, "cannot hold the sandbox's network namespace")
        }
        relay = PortRelay(namespace: namespace, log: log)
        let pipes: [Int32]
        do throws(SystemError) {
            let wakePipe = try FileDescriptor.pipe()
            let donePipe = try FileDescriptor.pipe()
            pipes = [wakePipe.first.take(), wakePipe.second.take(), donePipe.first.take(), donePipe.second.take()]
        } catch {
            throw error.cordonError(.systemCall, "cannot make the port service's pipes")
        }
        _ = fcntl(pipes[0], F_SETFL, O_NONBLOCK)
        wake = (pipes[0], pipes[1])
        done = (pipes[2], pipes[3])
        initExit = fcntl(initPidfd, F_DUPFD_CLOEXEC, 0)
        // A stale list from a supervisor that was killed says nothing of this one.
        unlink(layout.portsRecord)
        do throws(CordonError) {
            guard initExit >= 0 else { throw CordonError(.systemCall, "cannot keep init's pidfd", cause: String(cString: strerror(errno))) }
            listener = try DescriptorPassing.listen(at: layout.portSocket, backlog: 16)
        } catch {
            for fd in pipes { close(fd) }
            if initExit >= 0 { close(initExit) }
            throw error
        }
    }

    /// Starts the service's thread (the caller said it could not: it runs without forwards).
    func start() -> Bool {
        guard let thread = OSThread.start({ [self] in serve() }) else { return false }
        pthread_detach(thread)
        return true
    }

    private let stopped = Atomic(false)

    /// Ends every forward and waits (up to 2 s) until the service has removed its socket and
    /// list. Once; the pipes are closed here (the thread may have ended already: init exited).
    func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
        var ended = pollfd(fd: done.read, events: Int16(POLLIN), revents: 0)
        _ = poll(&ended, 1, 2000)
        for fd in [wake.read, wake.write, done.read] { close(fd) }
    }

    private struct Held {
        var forward: PortForward
        /// 127.0.0.1's, and [::1]'s where this host has IPv6 loopback.
        var listeners: [Int32]
    }

    private func serve() {
        var forwards: [UInt16: Held] = [:]
        defer {
            relay.stop()
            for held in forwards.values.sorted(by: { $0.forward.hostPort < $1.forward.hostPort }) {
                held.listeners.forEach { close($0) }
                audited("remove", held.forward, reason: "the sandbox stopped")
            }
            unlink(layout.portSocket)
            unlink(layout.portsRecord)
            close(listener)
            close(initExit)
            close(done.write)  // `stop` returns
        }
        while true {
            let held = forwards.values.flatMap { entry in entry.listeners.map { (listener: $0, forward: entry.forward) } }
            var fds = [
                pollfd(fd: listener, events: Int16(POLLIN), revents: 0), pollfd(fd: initExit, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0),
            ]
            fds += held.map { pollfd(fd: $0.listener, events: Int16(POLLIN), revents: 0) }
            if poll(&fds, nfds_t(fds.count), -1) < 0 { continue }
            if fds[1].revents != 0 || fds[2].revents != 0 { return }
            for (index, entry) in held.enumerated() where fds[index + 3].revents != 0 {
                // Non-blocking: another wake may have taken it.
                if let client = LoopbackListener.accept(entry.listener) { relay.carry(client, for: entry.forward) }
            }
            if fds[0].revents != 0, let client = DescriptorPassing.acceptOwnUser(listener, receiveTimeout: 2) {
                let reply = answer(readRequest(client), forwards: &forwards)
                let line = Array((reply.encoded() + "\n").utf8)
                _ = line.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                close(client)
            }
        }
    }

    /// The request line (at most `PortWire.requestLimit` bytes); nil when there is none.
    private func readRequest(_ fd: Int32) -> JSONValue? {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1024)
        while !bytes.contains(UInt8(ascii: "\n")) && bytes.count <= PortWire.requestLimit {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            bytes += chunk[..<n]
        }
        guard bytes.count <= PortWire.requestLimit else { return nil }
        return try? JSONValue.parse(Array(bytes.prefix { $0 != UInt8(ascii: "\n") }))
    }

    private func answer(_ request: JSONValue?, forwards: inout [UInt16: Held]) -> JSONValue {
        guard let request, let op = PortWire.Op(request) else { return PortWire.failure(CordonError(.invalidArgument, "not a port request")) }
        switch op {
        case .list:
            return PortWire.success(forwards: sorted(forwards))
        case .add(let wanted):
            do throws(CordonError) {
                let forward = try add(wanted, to: &forwards)
                return PortWire.success(forwards: sorted(forwards), added: forward)
            } catch {
                return PortWire.failure(error)
            }
        case .remove(let hostPort):
            guard let held = forwards.removeValue(forKey: hostPort) else {
                return PortWire.failure(
                    CordonError(.notFound, "host port \(hostPort) is not forwarded into \(name)", hint: "`cordon port \(name)` lists its forwards"))
            }
            held.listeners.forEach { close($0) }
            relay.end(hostPort)
            save(forwards)
            audited("remove", held.forward)
            return PortWire.success(forwards: sorted(forwards), removed: held.forward)
        }
    }

    private func add(_ wanted: PortForward, to forwards: inout [UInt16: Held]) throws(CordonError) -> PortForward {
        if let held = forwards[wanted.hostPort], wanted.hostPort != 0 {
            throw CordonError(
                .alreadyExists, "host port \(wanted.hostPort) is already forwarded to port \(held.forward.sandboxPort) of \(name)",
                hint: "remove it first: `cordon port \(name) --rm \(wanted.hostPort)`")
        }
        guard forwards.count < Self.forwardLimit else {
            throw CordonError(
                .invalidArgument, "\(name) has \(Self.forwardLimit) forwards already", hint: "remove one with `cordon port \(name) --rm HOSTPORT`")
        }
        let (port, sockets) = try Self.listen(port: wanted.hostPort)
        for socket in sockets { _ = fcntl(socket, F_SETFL, O_NONBLOCK) }
        let forward = PortForward(hostPort: port, sandboxPort: wanted.sandboxPort)
        forwards[port] = Held(forward: forward, listeners: sockets)
        relay.reopen(port)
        save(forwards)
        audited("add", forward)
        return forward
    }

    /// Listeners on 127.0.0.1:`port` and, where this host has IPv6 loopback, on [::1] at the same
    /// port (`localhost` may be either: a browser tries [::1] first, and must not reach another
    /// process there). Port 0: the kernel picks one, free on both (a few tries).
    private static func listen(port wanted: UInt16) throws(CordonError) -> (port: UInt16, sockets: [Int32]) {
        for _ in 0..<(wanted == 0 ? 8 : 1) {
            let v4: Int32
            let port: UInt16
            do throws(SystemError) {
                v4 = try CaptureNetwork.listenLoopback(SOCK_STREAM, port: wanted, backlog: 128).take()
            } catch {
                throw bindError(error, port: wanted, address: "\(PortForward.hostAddress):\(wanted)")
            }
            do throws(SystemError) { port = try LoopbackListener.localPort(v4) } catch {
                close(v4)
                throw error.cordonError(.systemCall, "cannot read the port of \(PortForward.hostAddress):\(wanted)")
            }
            do throws(SystemError) {
                return (port, [v4, try LoopbackListener.listenIPv6(port: port, backlog: 128).take()])
            } catch {
                if error.errno == EADDRNOTAVAIL || error.errno == EAFNOSUPPORT { return (port, [v4]) }
                close(v4)
                if error.errno == EADDRINUSE && wanted == 0 { continue }
                throw bindError(error, port: port, address: "[::1]:\(port)")
            }
        }
        throw CordonError(
            .alreadyExists, "no host port the kernel offered was free on both 127.0.0.1 and [::1]", hint: "give a HOSTPORT that is free on both")
    }

    static func bindError(_ error: SystemError, port: UInt16, address: String) -> CordonError {
        switch error.errno {
        case EADDRINUSE:
            return CordonError(
                .alreadyExists, "host port \(port) is taken: something on this host listens on \(address)",
                hint: "choose another HOSTPORT, or 0 to let the host pick a free one (`ss -ltnp 'sport = :\(port)'` shows who holds it)")
        case EACCES:
            return CordonError(
                .policyDenied, "host port \(port) is privileged: only root may listen on \(address)", hint: "choose a HOSTPORT from 1024 up, or 0")
        default:
            return error.cordonError(.systemCall, "cannot listen on \(address)")
        }
    }

    private func sorted(_ forwards: [UInt16: Held]) -> [PortForward] {
        forwards.values.map(\.forward).sorted { $0.hostPort < $1.hostPort }
    }

    /// `ports.json` for `cordon status`; a sandbox without forwards has none.
    private func save(_ forwards: [UInt16: Held]) {
        guard !forwards.isEmpty else {
            unlink(layout.portsRecord)
            return
        }
        let text = PortForward.listJSON(sorted(forwards)).encoded() + "\n"
        do throws(SystemError) { try FileIO.writeAtomically(layout.portsRecord, Array(text.utf8), mode: 0o600, durable: false) } catch {
            Self.log("cordon: cannot write \(layout.portsRecord) (\(error)); `cordon status \(name)` may not show its forwards")
        }
    }

    private func audited(_ action: String, _ forward: PortForward, reason: String? = nil) {
        guard let audit else { return }
        var fields: [(String, JSONValue)] = [
            ("action", .string(action)), ("host_address", .string(PortForward.hostAddress)), ("host_port", .int(Int(forward.hostPort))),
            ("sandbox_port", .int(Int(forward.sandboxPort))),
        ]
        if let reason { fields.append(("reason", .string(reason))) }
        do throws(CordonError) { try audit.append(AuditRecord(kind: "port", fields: fields)) } catch {
            Self.log("cordon: cannot write the audit record of port \(forward.description): \(error)")
        }
    }

    static func log(_ text: String) {
        let line = text + "\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }
}
