import CCordon
import CordonConfig
import CordonCore
import Glibc

/// The user's terminal as a run finds it: which standard streams are terminals, and their modes,
/// put back when the run ends however it ends (a normal exit, the command killed, cordon told to
/// stop, a set-up error). The sandbox never holds a descriptor of it: it gets a pty instead.
final class HostTerminal {
    /// Whether descriptor 0, 1, 2 is a terminal.
    let streams: [Bool]
    private var saved: [(fd: Int32, modes: [UInt8])] = []

    init() {
        streams = (0..<3).map { isatty(Int32($0)) == 1 }
        for fd in Int32(0)..<3 where streams[Int(fd)] {
            var modes = [UInt8](repeating: 0, count: Int(ccordon_termios_size()))
            if ccordon_tty_get(fd, &modes) == 0 { saved.append((fd, modes)) }
        }
    }

    var any: Bool { streams.contains(true) }

    /// Puts back the modes found at the start where they differ now.
    func restore() {
        for (fd, modes) in saved.reversed() {
            var now = [UInt8](repeating: 0, count: modes.count)
            if ccordon_tty_get(fd, &now) == 0, now == modes { continue }
            _ = ccordon_tty_restore(fd, modes)
        }
    }
}

/// The pty pair a run uses whenever any standard stream is a terminal: those streams of the
/// sandbox are the slave (bound at /dev/console so ttyname() works inside, and its controlling
/// terminal); the others stay the pipes or files they are. cordon relays the master.
final class Pty {
    let master: Int32
    private(set) var slave: Int32
    let slavePath: String?
    /// Which of the sandbox's 0, 1, 2 are the slave.
    let streams: [Bool]

    private init(master: Int32, slave: Int32, streams: [Bool]) {
        self.master = master
        self.slave = slave
        self.streams = streams
        self.slavePath = ttyname(slave).map { String(cString: $0) }
    }

    /// A pty for the terminal `streams` of `terminal`, nil when none is one.
    static func open(for terminal: HostTerminal) throws(CordonError) -> Pty? {
        guard let first = terminal.streams.firstIndex(of: true) else { return nil }
        var master: Int32 = -1
        var slave: Int32 = -1
        let rc = ccordon_openpty(&master, &slave, Int32(first))
        if rc < 0 { throw CordonError(.systemCall, "cannot open a pty", cause: String(cString: strerror(-rc))) }
        return Pty(master: master, slave: slave, streams: terminal.streams)
    }

    /// The sandbox's descriptors 0, 1, 2.
    var stdio: [Int32] { (0..<3).map { streams[$0] ? slave : Int32($0) } }
    /// Where the user types: relayed into the pty (nil when stdin is not a terminal).
    var inputFD: Int32 { streams[0] ? 0 : -1 }
    /// Where the pty's output goes: the terminal of stdout, else of stderr, else stdin's when it
    /// is open for writing (the echo of what is typed); else it is read and dropped.
    var outputFD: Int32 {
        if streams[1] { return 1 }
        if streams[2] { return 2 }
        return streams[0] && ccordon_fd_read_write(0) != 0 ? 0 : -1
    }
    /// The terminal whose window size the pty follows.
    var sizeFD: Int32 { Int32(streams.firstIndex(of: true) ?? 0) }
    /// The user can answer questions here: both stdin and stdout are the terminal.
    var interactive: Bool { streams[0] && streams[1] }

    func closeSlave() {
        if slave >= 0 { close(slave); slave = -1 }
    }

    func closeMaster() {
        closeSlave()
        close(master)
    }
}

/// A `TerminalFilter` the C relay loop calls for each chunk of pty output.
final class RelayFilter {
    var filter: TerminalFilter
    /// Reused for each chunk.
    var output: [UInt8] = []

    init(level: TerminalFilter.Level) { filter = TerminalFilter(level: level) }

    /// For ccordon_supervise: the filter and its context, or (nil, nil) for a raw relay.
    static let callback: ccordon_relay_filter = { context, input, length, output, capacity in
        guard let context, let input, let output else { return 0 }
        let relay = Unmanaged<RelayFilter>.fromOpaque(context).takeUnretainedValue()
        relay.output.removeAll(keepingCapacity: true)
        relay.filter.filter(UnsafeBufferPointer(start: input, count: length), into: &relay.output)
        // At most `length` + TerminalFilter.maxHeld by construction; anything beyond is dropped.
        let n = min(relay.output.count, capacity)
        relay.output.withUnsafeBufferPointer { done in
            if let base = done.baseAddress, n > 0 { output.update(from: base, count: n) }
        }
        return n
    }
}
