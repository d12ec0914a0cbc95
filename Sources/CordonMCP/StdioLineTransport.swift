import CordonOS
import FoundationEssentials
import Glibc
import Logging
import MCP
import Synchronization

/// MCP over stdin/stdout, one JSON-RPC message per line, with a thread of its own that blocks in
/// `read(2)` on stdin. The SDK's `StdioTransport` makes stdin non-blocking and sleeps 10 ms
/// whenever it is empty, so every request waited up to 10 ms before the server saw it (ping took
/// 10 ms); here a message is handed on as soon as its line ends. Writes are whole lines, in as
/// many `write(2)`s as the pipe takes, one message at a time. A line longer than `lineLimit`
/// (64 MiB) ends the input: the client is not speaking MCP.
actor StdioLineTransport: Transport {
    nonisolated let logger: Logger
    private let input: Int32
    private let output: Int32
    private let lineLimit: Int
    private let stream: AsyncThrowingStream<Data, any Swift.Error>
    private let continuation: AsyncThrowingStream<Data, any Swift.Error>.Continuation
    private var started = false
    /// Requests read (a message with an `id` and a `method`) less answers written (an `id` and
    /// no `method`): once input has ended, `cordon mcp` waits for this to reach 0, so a script
    /// that pipes requests in and closes gets every answer. Counted as the lines pass, before
    /// the SDK has started a handler for them.
    private let ledger = Ledger()

    final class Ledger: Sendable {
        private let open = Mutex(0)
        var unanswered: Int { open.withLock { $0 } }
        func read(_ message: Data) { if let kind = Envelope.kind(message), kind == .request { open.withLock { $0 += 1 } } }
        func wrote(_ message: Data) { if let kind = Envelope.kind(message), kind == .answer { open.withLock { $0 -= 1 } } }
    }

    /// Only whether a message has an `id` and a `method`.
    struct Envelope: Decodable {
        enum Kind { case request, answer, notification }
        enum CodingKeys: String, CodingKey { case id, method }
        var kind: Kind

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let id = try container.contains(.id) && !container.decodeNil(forKey: .id)
            let method = container.contains(.method)
            kind = id ? (method ? .request : .answer) : .notification
        }

        static func kind(_ message: Data) -> Kind? { try? JSONDecoder().decode(Envelope.self, from: message).kind }
    }

    /// Requests read whose answer has not been written yet.
    nonisolated var unanswered: Int { ledger.unanswered }

    init(input: Int32 = 0, output: Int32 = 1, lineLimit: Int = 64 << 20, logger: Logger) {
        self.input = input
        self.output = output
        self.lineLimit = lineLimit
        self.logger = logger
        (stream, continuation) = AsyncThrowingStream<Data, any Swift.Error>.makeStream()
    }

    func connect() async throws {
        guard !started else { return }
        started = true
        let (input, limit, continuation, logger, ledger) = (input, lineLimit, continuation, logger, ledger)
        let reader: @Sendable () -> Void = {
            Self.readLines(from: input, limit: limit, logger: logger) { message in
                ledger.read(message)
                continuation.yield(message)
            }
            continuation.finish()
        }
        guard OSThread.detached(stackSize: 1 << 20, reader) else {
            throw MCPError.internalError("cannot start the stdin reader thread")
        }
    }

    func disconnect() async {
        continuation.finish()
    }

    func send(_ data: Data) async throws {
        var bytes = [UInt8](data)
        bytes.append(UInt8(ascii: "\n"))
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(output, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN {
                    // A descriptor someone made non-blocking: wait until it takes more.
                    var ready = pollfd(fd: output, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&ready, 1, 1000)
                    continue
                }
                throw MCPError.internalError("cannot write to stdout: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
        ledger.wrote(data)
    }

    func receive() -> AsyncThrowingStream<Data, any Swift.Error> { stream }

    /// Reads `fd` until its end, handing on each non-empty line (without its newline).
    static func readLines(from fd: Int32, limit: Int, logger: Logger, _ deliver: (Data) -> Void) {
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN {
                    var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    _ = poll(&ready, 1, -1)
                    continue
                }
                logger.error("cannot read stdin: \(String(cString: strerror(errno)))")
                return
            }
            if n == 0 { break }
            var start = pending.count
            pending += buffer[0..<n]
            while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = pending[..<newline]
                if !line.isEmpty { deliver(Data(line)) }
                pending.removeSubrange(...newline)
                start = 0
            }
            if pending.count > limit {
                logger.error("a message longer than \(limit) bytes: input ends here")
                return
            }
        }
        if !pending.isEmpty { deliver(Data(pending)) }
    }
}
