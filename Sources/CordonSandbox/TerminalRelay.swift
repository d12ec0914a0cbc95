import CordonConfig
import CordonCore
import CordonOS
import Glibc

/// The user's terminal as a run finds it: which standard streams are terminals, and their modes,
/// put back when the run ends however it ends (a normal exit, the command killed, cordon told to
/// stop, a set-up error). The sandbox never holds a descriptor of it: it gets a pty instead.
final class HostTerminal {
    /// Whether descriptor 0, 1, 2 is a terminal.
    let streams: [Bool]
    private var saved: [(fd: Int32, modes: TerminalModes)] = []

    init() {
        streams = (0..<3).map { Terminal.isTerminal(Int32($0)) }
        for fd in Int32(0)..<3 where streams[Int(fd)] {
            if let modes = try? Terminal.modes(of: fd) { saved.append((fd, modes)) }
        }
    }

    var any: Bool { streams.contains(true) }

    /// Puts back the modes found at the start where they differ now.
    func restore() {
        for (fd, modes) in saved.reversed() {
            if let now = try? Terminal.modes(of: fd), now == modes { continue }
            try? Terminal.restore(fd, to: modes)
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
        self.slavePath = Terminal.name(of: slave)
    }

    /// A pty for the terminal `streams` of `terminal`, nil when none is one.
    static func open(for terminal: HostTerminal) throws(CordonError) -> Pty? {
        guard let first = terminal.streams.firstIndex(of: true) else { return nil }
        let pair = try Terminal.openPty(windowSizeFrom: Int32(first))
        return Pty(master: pair.master, slave: pair.slave, streams: terminal.streams)
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
        return streams[0] && Terminal.isReadWrite(0) ? 0 : -1
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

/// A `TerminalFilter` the supervisor's wait calls for each chunk of pty output.
final class RelayFilter: PtyOutputFilter {
    var terminalFilter: TerminalFilter

    init(level: TerminalFilter.Level) { terminalFilter = TerminalFilter(level: level) }

    func filter(_ chunk: UnsafeBufferPointer<UInt8>, into output: inout [UInt8]) {
        terminalFilter.filter(chunk, into: &output)
    }
}
