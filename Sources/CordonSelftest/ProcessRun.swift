import CordonCore
import CordonOS
import Glibc

/// Runs a host process to its end: output collected (bounded), a timeout (SIGTERM, then
/// SIGKILL), standard input /dev/null, and an interruption (SIGINT to cordon-selftest) ending it
/// early. Blocking: cordon-selftest runs one step at a time on its main thread.
enum ProcessRun {
    /// Output kept per stream; the rest is dropped.
    static let outputLimit = 4 * 1024 * 1024

    /// Runs `argv` with `environment` in `directory`; `inherit` are extra descriptors the child
    /// gets as fds 3, 4, … (everything else it gets is close-on-exec).
    static func run(
        _ argv: [String], environment: [String], directory: String? = nil, timeout: Double, inherit: [Int32] = [],
        interrupt: Int32 = -1
    ) throws(SelftestFailure) -> ProcessOutput {
        guard let path = argv.first else { throw SelftestFailure("nothing to run") }
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard null >= 0 else { throw SelftestFailure("cannot open /dev/null: \(String(cString: strerror(errno)))") }
        defer { close(null) }
        var out: [Int32] = [-1, -1]
        var err: [Int32] = [-1, -1]
        guard makePipe(&out) else { throw SelftestFailure("cannot make a pipe: \(String(cString: strerror(errno)))") }
        guard makePipe(&err) else {
            close(out[0])
            close(out[1])
            throw SelftestFailure("cannot make a pipe: \(String(cString: strerror(errno)))")
        }
        defer {
            close(out[0])
            close(err[0])
        }
        // The child starts in `directory` (its own chdir: this process's working directory is every
        // thread's, and cordon-selftest's code also runs inside test processes).
        if let directory, FileIO.kind(directory, followSymlinks: true) != .directory {
            close(out[1])
            close(err[1])
            throw SelftestFailure("cannot enter \(directory): no such directory")
        }
        let process: SpawnedProcess
        do throws(SystemError) {
            process = try SpawnedProcess.start(
                path: path, arguments: argv, environment: environment, descriptors: [null, out[1], err[1]] + inherit, namespaces: [],
                directory: directory)
            do { try process.release() } catch {
                process.abandon()
                throw error
            }
        } catch {
            close(out[1])
            close(err[1])
            throw SelftestFailure("cannot run \(path): \(error)")
        }
        close(out[1])
        close(err[1])
        defer { close(process.pidfd) }
        return collect(process, out: out[0], err: err[0], timeout: timeout, interrupt: interrupt)
    }

    /// A pipe whose ends are close-on-exec (the spawner hands the child only the ends it lists).
    private static func makePipe(_ ends: inout [Int32]) -> Bool {
        guard pipe(&ends) == 0 else { return false }
        for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return true
    }

    private static func collect(_ process: SpawnedProcess, out: Int32, err: Int32, timeout: Double, interrupt: Int32) -> ProcessOutput {
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        var timedOut = false
        var reading = [out, err]
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        let start = WallClock.monotonic()
        var killAt: Double?
        for fd in reading { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        enum Read { case data, empty, ended }
        /// One read of `fd` into its stream (kept up to the limit).
        func read(_ fd: Int32) -> Read {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                if fd == out {
                    stdout += buffer[0..<max(0, min(n, outputLimit - stdout.count))]
                } else {
                    stderr += buffer[0..<max(0, min(n, outputLimit - stderr.count))]
                }
                return .data
            }
            return n < 0 && (errno == EAGAIN || errno == EINTR) ? .empty : .ended
        }
        while true {
            let now = WallClock.monotonic()
            if !timedOut, now - start >= timeout {
                timedOut = true
                process.signal(SIGTERM)
                killAt = now + 5
            }
            if let at = killAt, now >= at {
                process.signal(SIGKILL)
                killAt = nil
            }
            var fds = reading.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            fds.append(pollfd(fd: process.pidfd, events: Int16(POLLIN), revents: 0))
            if interrupt >= 0 { fds.append(pollfd(fd: interrupt, events: Int16(POLLIN), revents: 0)) }
            let ready = poll(&fds, nfds_t(fds.count), 200)
            if ready < 0 && errno != EINTR { break }
            if interrupt >= 0, fds[reading.count + 1].revents != 0, !timedOut {
                // Interrupted: ended as a timeout would be (the signal stays in the pipe for the
                // runner to see).
                timedOut = true
                process.signal(SIGTERM)
                killAt = now + 5
            }
            if fds[reading.count].revents != 0 {
                // It has exited: what the pipes hold is read, without waiting for every copy of
                // their write ends (a sandbox's supervisor may hold one a little longer).
                for fd in reading { while read(fd) == .data {} }
                break
            }
            for entry in fds.prefix(reading.count) where entry.revents != 0 {
                if read(entry.fd) == .ended { reading.removeAll { $0 == entry.fd } }
            }
        }
        if timedOut { process.signal(SIGKILL) }
        let status = process.waitStatus()
        return ProcessOutput(
            status: status, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self), timedOut: timedOut)
    }
}
