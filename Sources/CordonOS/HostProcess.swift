import CCordon
public import CordonCore
import Glibc

/// Runs a host tool (git) to completion with its standard streams connected to this process:
/// input fed from chunks as the tool reads it, output and errors collected, all through one
/// `poll` loop so a tool that writes while it reads never blocks on a full pipe. The child is
/// started by `SpawnedProcess` (clone3, no fork in Swift) in no new namespace, with exactly the
/// environment given and no other descriptor.
public enum HostProcess {
    public struct Output: Sendable {
        /// The exit code (128 + signal when killed).
        public var status: Int32
        public var stdout: [UInt8]
        /// At most `errorLimit` bytes of it.
        public var stderr: [UInt8]

        /// Standard error as text (for messages), its last line break dropped.
        public var errorText: String {
            var text = String(decoding: stderr, as: UTF8.self)
            while text.hasSuffix("\n") { text.removeLast() }
            return text
        }
    }

    /// Most bytes of standard error kept.
    public static let errorLimit = 64 * 1024

    /// Runs `path` (absolute) with `arguments` (argv[0] included) and `environment`. `input`
    /// returns the next chunk of standard input, nil at its end; without it standard input is
    /// /dev/null. Standard output past `outputLimit` bytes fails the run (the child is killed).
    /// An error `input` throws kills the child and is thrown.
    public static func run(
        path: String, arguments: [String], environment: [String], outputLimit: Int = 256 * 1024 * 1024,
        input: (() throws(CordonError) -> [UInt8]?)? = nil
    ) throws(CordonError) -> Output {
        // Standard input: a socket when fed (a write to a child that is gone fails with EPIPE, sent
        // with MSG_NOSIGNAL: no SIGPIPE), /dev/null otherwise.
        var inParent: Int32 = -1
        var inChild: Int32 = -1
        if input != nil {
            var pair: [Int32] = [-1, -1]
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
                throw CordonError(.systemCall, "cannot create a socket pair for \(path)", cause: String(cString: strerror(errno)))
            }
            (inParent, inChild) = (pair[0], pair[1])
            // Only the parent writes, only the child reads.
            _ = shutdown(inParent, Int32(SHUT_RD))
        } else {
            inChild = open("/dev/null", O_RDONLY | O_CLOEXEC)
            guard inChild >= 0 else { throw CordonError(.systemCall, "cannot open /dev/null", cause: String(cString: strerror(errno))) }
        }
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        guard ccordon_pipe_cloexec(&outPipe) == 0 else {
            let cause = String(cString: strerror(errno))
            closeAll([inParent, inChild])
            throw CordonError(.systemCall, "cannot create a pipe for \(path)", cause: cause)
        }
        guard ccordon_pipe_cloexec(&errPipe) == 0 else {
            let cause = String(cString: strerror(errno))
            closeAll([inParent, inChild, outPipe[0], outPipe[1]])
            throw CordonError(.systemCall, "cannot create a pipe for \(path)", cause: cause)
        }
        let process: SpawnedProcess
        do throws(SystemError) {
            process = try SpawnedProcess.start(
                path: path, arguments: arguments, environment: environment, descriptors: [inChild, outPipe[1], errPipe[1]], namespaces: [])
            do { try process.release() } catch {
                process.abandon()
                throw error
            }
        } catch {
            closeAll([inParent, inChild, outPipe[0], outPipe[1], errPipe[0], errPipe[1]])
            throw CordonError(.systemCall, "cannot run \(path)", cause: error.description)
        }
        closeAll([inChild, outPipe[1], errPipe[1]])
        defer { close(process.pidfd) }

        var failure: CordonError?
        var output = Output(status: 0, stdout: [], stderr: [])
        var reading: [Int32] = [outPipe[0], errPipe[0]]
        var writing = inParent
        var pending: [UInt8] = []
        var offset = 0
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        for fd in reading + (writing >= 0 ? [writing] : []) { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        func stopWriting() {
            if writing >= 0 { close(writing) }
            writing = -1
        }
        while !reading.isEmpty || writing >= 0 {
            // Fetch the next chunk before polling, so that the end of input closes the socket at once.
            if writing >= 0, offset == pending.count, let input {
                do {
                    if let next = try input() {
                        (pending, offset) = (next, 0)
                        if next.isEmpty { continue }
                    } else {
                        stopWriting()
                        continue
                    }
                } catch {
                    failure = error
                    stopWriting()
                    process.signal(SIGKILL)
                }
            }
            var fds = reading.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if writing >= 0 { fds.append(pollfd(fd: writing, events: Int16(POLLOUT), revents: 0)) }
            let ready = poll(&fds, nfds_t(fds.count), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                failure = failure ?? CordonError(.systemCall, "poll failed while running \(path)", cause: String(cString: strerror(errno)))
                process.signal(SIGKILL)
                break
            }
            for entry in fds where entry.revents != 0 {
                if entry.fd == writing {
                    let sent = pending[offset...].withUnsafeBytes { send(writing, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    if sent > 0 {
                        offset += sent
                    } else if sent < 0 && errno != EAGAIN && errno != EINTR {
                        // The child stopped reading (it exited, or refused the input): its status says why.
                        stopWriting()
                    }
                    continue
                }
                let n = buffer.withUnsafeMutableBytes { Glibc.read(entry.fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    if entry.fd == outPipe[0] {
                        if output.stdout.count + n > outputLimit {
                            failure = failure ?? CordonError(.io, "\(path) wrote more than \(outputLimit) bytes")
                            process.signal(SIGKILL)
                        } else {
                            output.stdout += buffer[0..<n]
                        }
                    } else if output.stderr.count < errorLimit {
                        output.stderr += buffer[0..<min(n, errorLimit - output.stderr.count)]
                    }
                } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
                    close(entry.fd)
                    reading.removeAll { $0 == entry.fd }
                }
            }
        }
        output.status = process.waitStatus()
        if let failure { throw failure }
        return output
    }

    /// The first executable file named `name` in the `PATH` of `environment` (absolute
    /// directories only), else in the usual system directories.
    public static func find(_ name: String, environment: [String: String]) -> String? {
        let listed = (environment["PATH"] ?? "").split(separator: ":").map(String.init).filter { $0.hasPrefix("/") }
        for directory in listed + ["/usr/local/bin", "/usr/bin", "/bin"] {
            let candidate = directory + "/" + name
            var st = stat()
            if stat(candidate, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    private static func closeAll(_ fds: [Int32]) {
        for fd in fds where fd >= 0 { close(fd) }
    }
}
