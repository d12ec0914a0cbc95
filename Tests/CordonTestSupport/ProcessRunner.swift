import Foundation
import Glibc
public import Testing

/// What a process left behind: its status (the exit code, or the signal that ended it), its
/// output, and whether the runner had to kill it.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// The deadline passed before the process exited and closed its output: its process group
    /// was killed with SIGKILL.
    public var timedOut: Bool

    public init(status: Int32, stdout: String, stderr: String, timedOut: Bool = false) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.timedOut = timedOut
    }
}

/// The one way tests run a program: `argv[0]` is an absolute path; stdout and stderr are
/// captured; the run is bounded by `timeout`, after which the whole process group is killed (a
/// regression fails the test instead of hanging the suite).
public enum ProcessRunner {
    public static let defaultTimeout: Duration = .seconds(120)

    /// Runs on a thread of its own: waiting must not hold one of the few cooperative-pool threads
    /// that other suites' async code (the proxy, the DNS stub) needs.
    @discardableResult
    public static func run(
        _ argv: [String], environment: [String: String]? = nil, directory: String? = nil, stdin: String? = nil,
        timeout: Duration = defaultTimeout
    ) async throws -> ProcessResult {
        try await onOwnThread {
            try runBlocking(argv, environment: environment, directory: directory, stdin: stdin, timeout: timeout)
        }
    }

    /// Waits on the calling thread: for a thread of the test's own, or, from a task, for a brief
    /// tool whose `timeout` is within `PoolHold.limit` (see `PoolHold`).
    @discardableResult
    public static func runBlocking(
        _ argv: [String], environment: [String: String]? = nil, directory: String? = nil, stdin: String? = nil,
        timeout: Duration = defaultTimeout, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> ProcessResult {
        PoolHold.check(timeout, "running \(argv.first ?? "a program")", sourceLocation: sourceLocation)
        let process = try RunningProcess(argv, environment: environment, directory: directory, stdin: stdin)
        return try process.finishWaiting(timeout: timeout)
    }
}

/// A process started in the background (a server a test talks to, a `cordon run` it signals).
/// Its own process group (Foundation spawns with POSIX_SPAWN_SETPGROUP), killed as a whole on
/// timeout and on deinit. Output is read only while a method of this object waits, so use one
/// object from one thread at a time.
public final class RunningProcess: @unchecked Sendable {
    private let process: Process
    private let exited: DispatchSemaphore
    private var hasExited = false
    private let outPipe = Pipe(), errPipe = Pipe(), inPipe = Pipe()
    private var out: [UInt8] = [], err: [UInt8] = []
    private var outOpen = true, errOpen = true
    private var pendingInput: ArraySlice<UInt8>
    private var inputOpen = true
    private var lineCursor = 0

    /// Writing to a child that has exited must fail with EPIPE, not end the test process.
    private static let ignoringSIGPIPE: Void = { _ = Glibc.signal(SIGPIPE, SIG_IGN) }()

    /// `discardStderr`: for a server whose diagnostics nobody reads (a full pipe would block it).
    public init(
        _ argv: [String], environment: [String: String]? = nil, directory: String? = nil, stdin: String? = nil, discardStderr: Bool = false
    ) throws {
        guard let executable = argv.first, executable.hasPrefix("/") else {
            throw TestSupportError("RunningProcess: argv[0] must be an absolute path, got \(argv)")
        }
        _ = Self.ignoringSIGPIPE
        pendingInput = Array((stdin ?? "").utf8)[...]
        let exited = DispatchSemaphore(value: 0)
        self.exited = exited
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = Array(argv.dropFirst())
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.standardOutput = outPipe
        if discardStderr {
            process.standardError = FileHandle.nullDevice
            errOpen = false
        } else {
            process.standardError = errPipe
        }
        process.standardInput = inPipe
        process.terminationHandler = { _ in exited.signal() }
        do {
            try process.run()
        } catch {
            throw TestSupportError("could not start \(executable): \(error)")
        }
        let flags = fcntl(inPipe.fileHandleForWriting.fileDescriptor, F_GETFL)
        _ = fcntl(inPipe.fileHandleForWriting.fileDescriptor, F_SETFL, flags | O_NONBLOCK)
        if pendingInput.isEmpty { closeInput() }
    }

    deinit {
        if !hasExited && process.isRunning { kill(-pid, SIGKILL) }
    }

    /// The process's id, which is also its process group's.
    public var pid: Int32 { process.processIdentifier }

    /// Everything read from stdout so far.
    public var stdout: String { String(decoding: out, as: UTF8.self) }

    /// Whether the process is still running (reads what output is waiting, without blocking).
    public var isRunning: Bool {
        pump(until: ContinuousClock.now) { false }
        return !exitedWithin(ContinuousClock.now)
    }

    /// Kills the whole process group and reaps it on a thread of its own: for a `defer`, which
    /// cannot wait off the pool. The object is not to be used afterwards.
    public func killInBackground() {
        kill(-pid, SIGKILL)
        Thread.detachNewThread { _ = try? self.waitForExit(timeout: .seconds(30)) }
    }

    /// Sends `signal` to the process (or to its whole group).
    public func signal(_ signal: Int32, group: Bool = false) {
        kill(group ? -pid : pid, signal)
    }

    /// The next line of stdout (without its newline); throws if stdout ends or `timeout` passes
    /// first. Waits on a thread of its own.
    public func readLine(timeout: Duration = .seconds(30)) async throws -> String {
        try await onOwnThread { try self.readLine(timeout: timeout) }
    }

    /// Waits for the process to exit (not for its output to close); nil if `timeout` passes
    /// first. Waits on a thread of its own.
    public func waitForExit(timeout: Duration) async -> Int32? {
        (try? await onOwnThread { try self.waitForExit(timeout: timeout) }) ?? nil
    }

    /// Waits for exit and end of output, killing the process group if `timeout` passes first.
    /// Waits on a thread of its own.
    public func finish(timeout: Duration = ProcessRunner.defaultTimeout) async throws -> ProcessResult {
        try await onOwnThread { try self.finishWaiting(timeout: timeout) }
    }

    /// `readLine` on the calling thread (see `PoolHold`).
    public func readLine(timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        PoolHold.check(timeout, "reading a line from \(argv0)", sourceLocation: sourceLocation)
        let deadline = ContinuousClock.now + timeout
        pump(until: deadline) { self.out[self.lineCursor...].contains(10) }
        guard let newline = out[lineCursor...].firstIndex(of: 10) else {
            throw TestSupportError("no line from \(argv0) within \(timeout); stdout: \(stdout) stderr: \(String(decoding: err, as: UTF8.self))")
        }
        let line = String(decoding: out[lineCursor..<newline], as: UTF8.self)
        lineCursor = newline + 1
        return line
    }

    /// `waitForExit` on the calling thread (see `PoolHold`).
    public func waitForExit(timeout: Duration, sourceLocation: SourceLocation = #_sourceLocation) throws -> Int32? {
        PoolHold.check(timeout, "waiting for \(argv0) to exit", sourceLocation: sourceLocation)
        let deadline = ContinuousClock.now + timeout
        while !hasExited && ContinuousClock.now < deadline {
            let step = min(deadline, ContinuousClock.now + .milliseconds(50))
            if outOpen || errOpen || inputOpen { pump(until: step) { false } }
            _ = exitedWithin(step)
        }
        return hasExited ? process.terminationStatus : nil
    }

    /// `finish` on the calling thread (see `PoolHold`).
    public func finishBlocking(timeout: Duration = ProcessRunner.defaultTimeout, sourceLocation: SourceLocation = #_sourceLocation) throws -> ProcessResult {
        PoolHold.check(timeout, "waiting for \(argv0) to finish", sourceLocation: sourceLocation)
        return try finishWaiting(timeout: timeout)
    }

    /// `finish`'s wait, on the calling thread (its callers checked where they run).
    fileprivate func finishWaiting(timeout: Duration) throws -> ProcessResult {
        let deadline = ContinuousClock.now + timeout
        pump(until: deadline) { false }
        var timedOut = false
        if outOpen || errOpen || inputOpen || !exitedWithin(deadline) {
            timedOut = true
            kill(-pid, SIGKILL)
            // A descendant that left the group may still hold the pipes: stop reading after a grace.
            pump(until: ContinuousClock.now + .seconds(5)) { false }
        }
        closeInput()
        guard exitedWithin(ContinuousClock.now + .seconds(30)) else {
            // Foundation sees the exit when its status socket closes, which a descendant that left
            // the group (setsid) and inherited it can hold open.
            throw TestSupportError("\(argv0) (pid \(pid)) was not seen to exit after SIGKILL to its group (a descendant outside the group may hold it)")
        }
        return ProcessResult(
            status: process.terminationStatus, stdout: stdout, stderr: String(decoding: err, as: UTF8.self), timedOut: timedOut)
    }

    private var argv0: String { process.executableURL?.path ?? "process" }

    private func exitedWithin(_ deadline: ContinuousClock.Instant) -> Bool {
        if hasExited { return true }
        let left = deadline - ContinuousClock.now
        let nanoseconds = max(0, left.components.seconds * 1_000_000_000 + left.components.attoseconds / 1_000_000_000)
        hasExited = exited.wait(timeout: .now() + .nanoseconds(Int(min(nanoseconds, Int64(Int32.max) * 1000)))) == .success
        return hasExited
    }

    private func closeInput() {
        guard inputOpen else { return }
        inputOpen = false
        pendingInput = []
        try? inPipe.fileHandleForWriting.close()
    }

    /// Reads both outputs and feeds stdin until `done`, end of all three, or `deadline`.
    private func pump(until deadline: ContinuousClock.Instant, done: () -> Bool) {
        let outFD = outPipe.fileHandleForReading.fileDescriptor
        let errFD = errPipe.fileHandleForReading.fileDescriptor
        let inFD = inPipe.fileHandleForWriting.fileDescriptor
        var buffer = [UInt8](repeating: 0, count: 65536)
        while (outOpen || errOpen || inputOpen) && !done() {
            let left = deadline - ContinuousClock.now
            let milliseconds = max(0, min(Int64(Int32.max), left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))
            var fds = [
                pollfd(fd: outOpen ? outFD : -1, events: Int16(POLLIN), revents: 0),
                pollfd(fd: errOpen ? errFD : -1, events: Int16(POLLIN), revents: 0),
                pollfd(fd: inputOpen ? inFD : -1, events: Int16(POLLOUT), revents: 0),
            ]
            let ready = poll(&fds, nfds_t(fds.count), Int32(milliseconds))
            if ready < 0 && errno != EINTR { return }
            if ready <= 0 {
                if ContinuousClock.now >= deadline { return }
                continue
            }
            for (index, fd) in [(0, outFD), (1, errFD)] where fds[index].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    if index == 0 { out += buffer[0..<n] } else { err += buffer[0..<n] }
                } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                    if index == 0 { outOpen = false } else { errOpen = false }
                }
            }
            if fds[2].revents & Int16(POLLOUT) != 0 {
                let n = pendingInput.withUnsafeBytes { write(inFD, $0.baseAddress, $0.count) }
                if n > 0 { pendingInput = pendingInput.dropFirst(n) }
                if pendingInput.isEmpty || (n < 0 && errno != EAGAIN && errno != EINTR) { closeInput() }
            } else if fds[2].revents != 0 {
                closeInput()
            }
        }
    }
}

/// A failure of the test scaffolding itself (not of the code under test), said loudly.
public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
