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
        let (input, limit, continuation, logger) = (input, lineLimit, continuation, logger)
        let reader: @Sendable () -> Void = {
            Self.readLines(from: input, limit: limit, logger: logger) { continuation.yield($0) }
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
