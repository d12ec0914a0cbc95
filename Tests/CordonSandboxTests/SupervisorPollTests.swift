import CordonCore
@testable import CordonOS
import Glibc
import Testing

/// The supervisor's wait, on real processes and descriptors: each way out is its own `Event`,
/// the pty relay goes through the filter, and a wait it cannot do is an error, not a hang.
@Suite(.timeLimit(.minutes(1))) struct SupervisorPollTests {
    /// A child of `arguments` (no new namespaces), running.
    static func child(_ arguments: [String]) throws -> SpawnedProcess {
        let process = try SpawnedProcess.start(path: arguments[0], arguments: arguments, environment: [], descriptors: [0, 1, 2], namespaces: [])
        try process.release()
        return process
    }

    static func pipePair() -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        #expect(pipe(&fds) == 0)
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        }
        return (fds[0], fds[1])
    }

    static func writeByte(_ fd: Int32) {
        var byte: UInt8 = 1
        #expect(write(fd, &byte, 1) == 1)
    }

    @Test func aChildThatExitsIsExited() throws {
        let process = try Self.child(["/bin/true"])
        defer { close(process.pidfd) }
        let poll = SupervisorPoll(pidfd: process.pidfd, signals: nil, relay: nil, filter: nil, tick: nil)
        #expect(try poll.wait() == .exited)
        #expect(process.waitStatus() == 0)
    }

    @Test func aReadableTickIsTickAndAWakeIsWake() throws {
        let process = try Self.child(["/bin/sleep", "60"])
        defer {
            process.signal(SIGKILL)
            _ = process.waitStatus()
            close(process.pidfd)
        }
        let tick = Self.pipePair(), wake = Self.pipePair()
        defer { [tick.read, tick.write, wake.read, wake.write].forEach { close($0) } }
        let poll = SupervisorPoll(pidfd: process.pidfd, signals: nil, relay: nil, filter: nil, tick: tick.read)
        Self.writeByte(tick.write)
        #expect(try poll.wait(wake: [wake.read]) == .tick)
        var drain = [UInt8](repeating: 0, count: 8)
        _ = read(tick.read, &drain, drain.count)
        Self.writeByte(wake.write)
        #expect(try poll.wait(wake: [wake.read]) == .wake)
        // The caller takes a wake over: until it does, the next wait says so again.
        #expect(try poll.wait(wake: [wake.read]) == .wake)
        process.signal(SIGKILL)
        #expect(try poll.wait() == .exited)
    }

    @Test func aWakeDescriptorThatFailsStillWakes() throws {
        let process = try Self.child(["/bin/sleep", "60"])
        defer {
            process.signal(SIGKILL)
            _ = process.waitStatus()
            close(process.pidfd)
        }
        let wake = Self.pipePair()
        close(wake.write)  // the other end gone: POLLHUP, never a wait forever
        defer { close(wake.read) }
        let poll = SupervisorPoll(pidfd: process.pidfd, signals: nil, relay: nil, filter: nil, tick: nil)
        #expect(try poll.wait(wake: [wake.read]) == .wake)
    }

    @Test func moreWakeDescriptorsThanItTakesAreRefused() throws {
        let process = try Self.child(["/bin/sleep", "60"])
        defer {
            process.signal(SIGKILL)
            _ = process.waitStatus()
            close(process.pidfd)
        }
        let poll = SupervisorPoll(pidfd: process.pidfd, signals: nil, relay: nil, filter: nil, tick: nil)
        #expect(throws: CordonError.self) { try poll.wait(wake: [Int32](repeating: 0, count: SupervisorPoll.maxWake + 1)) }
    }

    /// Drops every ESC byte: what the sandbox writes to its pty reaches the output only through it.
    final class DropEscape: PtyOutputFilter {
        var calls = 0
        func filter(_ chunk: UnsafeBufferPointer<UInt8>, into output: inout [UInt8]) {
            calls += 1
            output += chunk.filter { $0 != 0x1B }
        }
    }

    @Test func ptyOutputReachesTheOutputOnlyThroughTheFilter() throws {
        let pty = try Terminal.openPty(windowSizeFrom: -1)
        defer { close(pty.master) }
        // Raw, so the pty passes the bytes as they are (no CR added to the newline).
        let modes = try Terminal.makeRaw(pty.slave)
        _ = modes
        let sent: [UInt8] = Array("plain \u{1B}]52;c;Y2xpcA==\u{07} text\n".utf8)
        #expect(write(pty.slave, sent, sent.count) == sent.count)
        let output = Self.pipePair()
        defer { close(output.read); close(output.write) }
        let process = try Self.child(["/bin/true"])
        defer { close(process.pidfd) }
        let filter = DropEscape()
        let poll = SupervisorPoll(
            pidfd: process.pidfd, signals: nil, relay: .init(master: pty.master, input: nil, output: output.write, sizeSource: nil),
            filter: filter, tick: nil)
        // The child exits at once: what was in the pty is drained through the filter first.
        #expect(try poll.wait() == .exited)
        _ = process.waitStatus()
        close(pty.slave)
        var got = [UInt8](repeating: 0, count: 4096)
        let n = read(output.read, &got, got.count)
        #expect(n == sent.count - 1)
        #expect(Array(got.prefix(max(0, n))) == sent.filter { $0 != 0x1B })
        #expect(filter.calls >= 1)
    }
}

/// The user's terminal comes back as it was: modes read, raw mode set, restored, equal again.
struct TerminalModesTests {
    @Test func rawModeIsUndoneByRestore() throws {
        let pty = try Terminal.openPty(windowSizeFrom: -1)
        defer { close(pty.master); close(pty.slave) }
        #expect(Terminal.isTerminal(pty.slave))
        let before = try Terminal.modes(of: pty.slave)
        let saved = try Terminal.makeRaw(pty.slave)
        #expect(saved == before)
        #expect(try Terminal.modes(of: pty.slave) != before)
        try Terminal.restore(pty.slave, to: saved)
        #expect(try Terminal.modes(of: pty.slave) == before)
    }

    /// The sandbox's pty starts at the size of the user's terminal.
    @Test func aNewPtyTakesTheWindowSizeOfItsSource() throws {
        let source = try Terminal.openPty(windowSizeFrom: -1)
        defer { close(source.master); close(source.slave) }
        let size = Terminal.WindowSize(rows: 33, columns: 101)
        try Terminal.setWindowSize(source.slave, size)
        #expect(try Terminal.windowSize(of: source.master) == size)
        let pty = try Terminal.openPty(windowSizeFrom: source.slave)
        defer { close(pty.master); close(pty.slave) }
        #expect(try Terminal.windowSize(of: pty.slave) == size)
    }

    @Test func aDescriptorThatIsNoTerminalIsAnErrorNamingIt() throws {
        var fds: [Int32] = [-1, -1]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        #expect(!Terminal.isTerminal(fds[0]))
        let error = #expect(throws: CordonError.self) { try Terminal.makeRaw(fds[0]) }
        #expect(error?.message.contains("descriptor \(fds[0])") == true)
        #expect(error?.code == .systemCall)
        #expect(throws: CordonError.self) { try Terminal.windowSize(of: fds[0]) }
    }
}
