public import CordonCore
import CordonIsolation
import CordonOS
import Glibc

extension ExecClient {
    /// Runs `command` in the running sandbox with `stdio` (three descriptors, closed here once
    /// handed over) as its standard streams: no pty, nothing between the command and them, so
    /// its bytes are exactly what it wrote. `cordon mcp bridge` runs its server this way, on pipes
    /// it relays. `control` readable (a byte, or its write end closed) ends the command: the
    /// connection closes, and the supervisor kills it. Returns the command's exit status (126/127
    /// when it could not run), 128+N when this process got an ending signal N (the command is
    /// killed then, as `cordon exec`'s is), 137 when `control` ended it.
    public static func run(
        name: String, layout: SandboxLayout, command: Request, stdio: [Int32], control: Int32
    ) throws(CordonError) -> Int32 {
        // The command's ends are the command's: closed here once sent (or not), so that the
        // caller sees their end when the command's side closes.
        var handedOver = false
        defer { if !handedOver { stdio.forEach { close($0) } } }
        let connection = try connect(name: name, layout: layout)
        let socket = connection.raw
        let message = ExecWire.Request.exec(
            id: 0, argv: command.argv, environment: command.environment, directory: command.directory ?? "", terminal: 0)
        do throws(CordonError) {
            handedOver = true
            defer { stdio.forEach { close($0) } }
            try DescriptorPassing.send(stdio, message: ExecWire.frame(ExecWire.encode(message)), over: socket)
        } catch {
            throw CordonError(.io, "cannot hand the command to sandbox \(name)", cause: error.cause ?? error.message)
        }
        let signals = try SignalPipe.install(ending)
        defer {
            SignalPipe.reset(ending)
            close(signals)
        }
        var replies = Replies(socket: socket)
        while true {
            var watched = [signals, socket, control].map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if poll(&watched, 3, -1) < 0 {
                guard errno == EINTR else {
                    throw CordonError(.systemCall, "cannot wait for the command in sandbox \(name)", cause: String(cString: strerror(errno)))
                }
                continue
            }
            if watched[0].revents != 0 {
                var bytes = [UInt8](repeating: 0, count: 64)
                let got = bytes.withUnsafeMutableBytes { read(signals, $0.baseAddress, $0.count) }
                // Closing the connection (on return) makes the supervisor kill the command.
                if let sig = bytes.prefix(max(got, 0)).map(Int32.init).first(where: { ending.contains($0) }) { return 128 + sig }
            }
            if watched[2].revents != 0 { return 128 + SIGKILL }
            while let (reply, fds) = try replies.next(blocking: false) {
                fds.forEach { close($0) }
                switch reply {
                case .ready, .started: continue
                case .exited(_, let status): return status
                case .failed(_, let status, let text):
                    say(text)
                    return status
                }
            }
        }
    }
}
