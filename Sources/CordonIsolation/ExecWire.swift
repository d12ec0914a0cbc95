/// The messages of `cordon exec`: between the client and the supervisor (`<sandbox>/exec.sock`,
/// each framed by `ExecWire.frame`) and between the supervisor and cordon-init (its exec channel,
/// a SOCK_SEQPACKET pair: one message each). The same small binary form as the plan.
public enum ExecWire {
    /// The most bytes one request may take (the exec channel carries it as one datagram).
    public static let maxRequestBytes = 128 * 1024

    /// What the supervisor asks of init, or a client of the supervisor.
    public enum Request: Sendable, Equatable {
        /// Run `argv` as a new session of its own, stdio the three descriptors that come with the
        /// message; `environment` (`KEY=VALUE`) is added to the plan's, replacing the same keys;
        /// `directory` empty: the plan's working directory. `terminal`: which of the command's
        /// 0, 1, 2 (bits 0, 1, 2) are a pty init opens (its controlling terminal; the descriptor
        /// sent for such a stream is not used). `windowSize`: that pty's size before the command
        /// starts, rows << 16 | columns (0: unknown), so its first look at its size is right.
        case exec(id: UInt32, argv: [String], environment: [String], directory: String, terminal: UInt8, windowSize: UInt32 = 0)
        /// Send `signal` to the process group of request `id`.
        case signal(id: UInt32, signal: Int32)
        /// (client → supervisor only) stop the sandbox: init ends everything and exits.
        case stop
    }

    /// What init tells the supervisor, and the supervisor a client.
    public enum Reply: Sendable, Equatable {
        /// Init is up, the sandbox is built: it serves requests from now on.
        case ready
        case started(id: UInt32, pid: Int32)
        /// The command exited with `status` (128 + signal when killed).
        case exited(id: UInt32, status: Int32)
        /// The command could not run: `status` 126 or 127 as `cordon run`, 125 for the sandbox.
        case failed(id: UInt32, status: Int32, message: String)
    }

    public struct DecodeError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public static func encode(_ request: Request) -> [UInt8] {
        var w = WireWriter()
        switch request {
        case .exec(let id, let argv, let environment, let directory, let terminal, let windowSize):
            w.u8(1)
            w.u32(id)
            w.strings(argv)
            w.strings(environment)
            w.string(directory)
            w.u8(terminal)
            w.u32(windowSize)
        case .signal(let id, let signal):
            w.u8(2)
            w.u32(id)
            w.u32(UInt32(bitPattern: signal))
        case .stop:
            w.u8(3)
        }
        return w.out
    }

    public static func decodeRequest(_ bytes: [UInt8]) throws(DecodeError) -> Request {
        var r = WireReader(bytes: bytes)
        do throws(SandboxPlan.WireError) {
            let request: Request
            switch try r.u8() {
            case 1:
                let id = try r.u32()
                let argv = try r.strings()
                let environment = try r.strings()
                let directory = try r.string()
                let terminal = try r.u8()
                guard terminal < 8 else { throw SandboxPlan.WireError(message: "invalid terminal streams \(terminal)") }
                // A request from a cordon before the window size was sent ends here.
                let windowSize = r.at == bytes.count ? 0 : try r.u32()
                request = .exec(id: id, argv: argv, environment: environment, directory: directory, terminal: terminal, windowSize: windowSize)
            case 2: request = .signal(id: try r.u32(), signal: Int32(bitPattern: try r.u32()))
            case 3: request = .stop
            case let tag: throw SandboxPlan.WireError(message: "unknown exec request \(tag)")
            }
            guard r.at == bytes.count else { throw SandboxPlan.WireError(message: "\(bytes.count - r.at) unexpected bytes after the exec request") }
            return request
        } catch {
            throw DecodeError(description: "a malformed exec request: \(error.message)")
        }
    }

    public static func encode(_ reply: Reply) -> [UInt8] {
        var w = WireWriter()
        switch reply {
        case .ready: w.u8(0)
        case .started(let id, let pid):
            w.u8(1)
            w.u32(id)
            w.u32(UInt32(bitPattern: pid))
        case .exited(let id, let status):
            w.u8(2)
            w.u32(id)
            w.u32(UInt32(bitPattern: status))
        case .failed(let id, let status, let message):
            w.u8(3)
            w.u32(id)
            w.u32(UInt32(bitPattern: status))
            w.string(message)
        }
        return w.out
    }

    public static func decodeReply(_ bytes: [UInt8]) throws(DecodeError) -> Reply {
        var r = WireReader(bytes: bytes)
        do throws(SandboxPlan.WireError) {
            let reply: Reply
            switch try r.u8() {
            case 0: reply = .ready
            case 1: reply = .started(id: try r.u32(), pid: Int32(bitPattern: try r.u32()))
            case 2: reply = .exited(id: try r.u32(), status: Int32(bitPattern: try r.u32()))
            case 3:
                let id = try r.u32()
                let status = Int32(bitPattern: try r.u32())
                reply = .failed(id: id, status: status, message: try r.string())
            case let tag: throw SandboxPlan.WireError(message: "unknown exec reply \(tag)")
            }
            guard r.at == bytes.count else { throw SandboxPlan.WireError(message: "\(bytes.count - r.at) unexpected bytes after the exec reply") }
            return reply
        } catch {
            throw DecodeError(description: "a malformed exec reply: \(error.message)")
        }
    }

    /// `body` behind its length (4 bytes, little-endian): a message on the stream socket.
    public static func frame(_ body: [UInt8]) -> [UInt8] {
        var w = WireWriter()
        w.u32(UInt32(body.count))
        return w.out + body
    }

    /// The length a frame header announces.
    public static func frameLength(_ header: some Collection<UInt8>) -> Int {
        header.prefix(4).reversed().reduce(0) { $0 << 8 | Int($1) }
    }

    /// `environment` with `extra`'s `KEY=VALUE` entries replacing those of the same key.
    public static func merged(_ environment: [String], _ extra: [String]) -> [String] {
        func key(_ entry: String) -> Substring { entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first ?? "" }
        let replaced = Set(extra.map(key))
        return environment.filter { !replaced.contains(key($0)) } + extra
    }
}
