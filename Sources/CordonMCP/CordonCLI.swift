public import CordonCore
import CordonOS
import Glibc

/// Runs the `cordon` executable itself for a tool: the tools do what the CLI does by running
/// the CLI, with an argv built only from checked arguments, so their results are its documented
/// `--json` documents (docs/json.md) and a command that fails on hostile input (a diff of files
/// the agent wrote) fails in its own process, never in the server. Standard input is /dev/null,
/// so no command waits for an answer; output past `outputLimit` is dropped and said; a run past
/// `timeout` is ended (SIGTERM, which ends a `cordon exec` command too, then SIGKILL).
public struct CordonCLI: Sendable {
    /// The cordon executable (`cordon mcp` runs its own: /proc/self/exe).
    public var executable: String
    /// The environment its runs get (the server's: the same state and config directories).
    public var environment: [String]

    public init(executable: String, environment: [String]) {
        self.executable = executable
        self.environment = environment
    }

    /// What one run left.
    public struct Output: Sendable {
        /// Its exit status (128 + N when killed by signal N).
        public var status: Int32
        public var stdout: [UInt8]
        public var stderr: [UInt8]
        /// Bytes of each stream dropped past the limit.
        public var stdoutDropped = 0
        public var stderrDropped = 0
        /// It ran past its timeout and was ended.
        public var timedOut = false

        public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
        /// Standard error as a message: its last line break dropped, `cordon: ` taken off.
        public var errorMessage: String {
            var text = stderrText
            while text.hasSuffix("\n") { text.removeLast() }
            if text.hasPrefix("cordon: ") { text.removeFirst("cordon: ".count) }
            return text
        }
    }

    /// Runs `cordon ARGUMENTS…` on a thread of its own (it blocks: never on the cooperative pool).
    /// `progress` is called about every `progressInterval` seconds while it runs.
    public func run(
        _ arguments: [String], timeout: Double, outputLimit: Int, progressInterval: Double = 5,
        progress: (@Sendable (Double) -> Void)? = nil
    ) async throws(CordonError) -> Output {
        let this = self
        let result: Result<Output, CordonError> = await withCheckedContinuation { continuation in
            let work: @Sendable () -> Void = {
                do throws(CordonError) {
                    continuation.resume(
                        returning: .success(
                            try this.runBlocking(
                                arguments, timeout: timeout, outputLimit: outputLimit, progressInterval: progressInterval, progress: progress)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
            if !OSThread.detached(stackSize: 1 << 20, work) { work() }
        }
        return try result.get()
    }

    /// `run`, on the calling thread.
    public func runBlocking(
        _ arguments: [String], timeout: Double, outputLimit: Int, progressInterval: Double = 5,
        progress: (@Sendable (Double) -> Void)? = nil
    ) throws(CordonError) -> Output {
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard null >= 0 else { throw CordonError(.systemCall, "cannot open /dev/null", cause: String(cString: strerror(errno))) }
        defer { close(null) }
        var out: [Int32] = [-1, -1]
        var err: [Int32] = [-1, -1]
        guard Self.pipe(&out) else { throw CordonError(.systemCall, "cannot create a pipe for cordon", cause: String(cString: strerror(errno))) }
        guard Self.pipe(&err) else {
            let cause = String(cString: strerror(errno))
            close(out[0])
            close(out[1])
            throw CordonError(.systemCall, "cannot create a pipe for cordon", cause: cause)
        }
        defer {
            close(out[0])
            close(err[0])
        }
        // The child inherits the server's working directory.
        let process: SpawnedProcess
        do throws(SystemError) {
            process = try SpawnedProcess.start(
                path: executable, arguments: [executable] + arguments, environment: environment, descriptors: [null, out[1], err[1]], namespaces: [])
            do { try process.release() } catch {
                process.abandon()
                throw error
            }
        } catch {
            close(out[1])
            close(err[1])
            throw error.cordonError(.systemCall, "cannot run \(executable)")
        }
        close(out[1])
        close(err[1])
        defer { close(process.pidfd) }
        return collect(process: process, out: out[0], err: err[0], timeout: timeout, limit: outputLimit, interval: progressInterval, progress: progress)
    }

    /// A pipe whose ends are close-on-exec (the spawner hands the child only the ends it lists).
    private static func pipe(_ ends: inout [Int32]) -> Bool {
        guard Glibc.pipe(&ends) == 0 else { return false }
        for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return true
    }

    private func collect(
        process: SpawnedProcess, out: Int32, err: Int32, timeout: Double, limit: Int, interval: Double, progress: (@Sendable (Double) -> Void)?
    ) -> Output {
        var output = Output(status: 0, stdout: [], stderr: [])
        var reading = [out, err]
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        let start = WallClock.monotonic()
        var nextProgress = start + interval
        var killAt: Double?
        for fd in reading { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        enum Read { case data, empty, ended }
        /// One read of `fd` into its stream (kept up to `limit`, the rest counted).
        func read(_ fd: Int32) -> Read {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                if fd == out {
                    let kept = max(0, min(n, limit - output.stdout.count))
                    output.stdout += buffer[0..<kept]
                    output.stdoutDropped += n - kept
                } else {
                    let kept = max(0, min(n, limit - output.stderr.count))
                    output.stderr += buffer[0..<kept]
                    output.stderrDropped += n - kept
                }
                return .data
            }
            return n < 0 && (errno == EAGAIN || errno == EINTR) ? .empty : .ended
        }
        /// What `fd` holds now.
        func drain(_ fd: Int32) { while read(fd) == .data {} }
        while !reading.isEmpty {
            let now = WallClock.monotonic()
            if !output.timedOut, now - start >= timeout {
                output.timedOut = true
                process.signal(SIGTERM)
                killAt = now + 5
            }
            if let at = killAt, now >= at {
                process.signal(SIGKILL)
                killAt = nil
            }
            if let progress, now >= nextProgress {
                progress(now - start)
                nextProgress = now + interval
            }
            // The process's descriptor too: once it has exited, what the pipes hold is read and
            // the run ends, without waiting for every copy of their write ends to close (the
            // sandbox's supervisor closes the ones `cordon exec` handed it a little later).
            var fds = reading.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            fds.append(pollfd(fd: process.pidfd, events: Int16(POLLIN), revents: 0))
            let wake = min(nextProgress, output.timedOut ? (killAt ?? now + 1) : start + timeout)
            let ready = poll(&fds, nfds_t(fds.count), Int32(max(10, min(1000, (wake - now) * 1000))))
            if ready < 0 && errno != EINTR { break }
            if fds.last?.revents ?? 0 != 0 {
                for fd in reading { drain(fd) }
                break
            }
            for entry in fds.dropLast() where entry.revents != 0 {
                if read(entry.fd) == .ended { reading.removeAll { $0 == entry.fd } }
            }
        }
        // The process has exited, or both pipes ended and it ends soon (or is killed).
        if output.timedOut { process.signal(SIGKILL) }
        output.status = process.waitStatus()
        return output
    }
}
