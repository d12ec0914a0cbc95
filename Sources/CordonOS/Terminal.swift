import CCordon
public import CordonCore
import Glibc

/// A terminal's modes (its termios), kept opaque: read to be put back later, compared to see
/// whether something changed them.
public struct TerminalModes: Sendable, Equatable {
    fileprivate var bytes: [UInt8]
}

/// The terminal calls the supervisor makes: the user's terminal (its modes, raw mode and back)
/// and the pty the sandbox gets instead of it.
public enum Terminal {
    /// Whether `fd` is a terminal.
    public static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

    /// The modes of terminal `fd`.
    public static func modes(of fd: Int32) throws(CordonError) -> TerminalModes {
        var modes = TerminalModes(bytes: [UInt8](repeating: 0, count: Int(ccordon_termios_size())))
        try check("cannot read the modes of terminal", fd, ccordon_tty_get(fd, &modes.bytes))
        return modes
    }

    /// Puts terminal `fd` into raw mode; returns the modes it had, for `restore`.
    public static func makeRaw(_ fd: Int32) throws(CordonError) -> TerminalModes {
        // The modes as `modes(of:)` reads them (the struct's padding zero, so two readings of the
        // same modes compare equal); the shim's own copy carries its stack's padding bytes.
        let saved = try modes(of: fd)
        var scratch = [UInt8](repeating: 0, count: saved.bytes.count)
        try check("cannot put terminal into raw mode", fd, ccordon_tty_raw(fd, &scratch))
        return saved
    }

    /// Sets the modes of terminal `fd` (after the output queued so far is written).
    public static func restore(_ fd: Int32, to modes: TerminalModes) throws(CordonError) {
        try check("cannot restore the modes of terminal", fd, ccordon_tty_restore(fd, modes.bytes))
    }

    /// Whether `fd` is open for reading and writing (a terminal the relay may echo to).
    public static func isReadWrite(_ fd: Int32) -> Bool { ccordon_fd_read_write(fd) != 0 }

    /// The path of terminal `fd` (ttyname), nil when it has none.
    public static func name(of fd: Int32) -> String? { ttyname(fd).map { String(cString: $0) } }

    /// A new pty pair (both ends close-on-exec); the slave gets the window size of terminal
    /// `windowSizeFrom` when that is one.
    public static func openPty(windowSizeFrom: Int32) throws(CordonError) -> (master: Int32, slave: Int32) {
        var master: Int32 = -1
        var slave: Int32 = -1
        let rc = ccordon_openpty(&master, &slave, windowSizeFrom)
        if rc < 0 { throw CordonError(.systemCall, "cannot open a pty", cause: String(cString: strerror(-rc))) }
        return (master, slave)
    }

    /// A terminal's window size in character cells.
    public struct WindowSize: Sendable, Equatable {
        public var rows: UInt16
        public var columns: UInt16

        /// Packed as the exec request carries it: rows << 16 | columns.
        public init(packed: UInt32) {
            rows = UInt16(packed >> 16)
            columns = UInt16(packed & 0xFFFF)
        }

        public init(rows: UInt16, columns: UInt16) {
            self.rows = rows
            self.columns = columns
        }

        public var packed: UInt32 { UInt32(rows) << 16 | UInt32(columns) }
    }

    /// The window size of terminal `fd`.
    public static func windowSize(of fd: Int32) throws(CordonError) -> WindowSize {
        var ws = winsize()
        guard ioctl(fd, UInt(TIOCGWINSZ), &ws) == 0 else { throw failure("cannot read the window size of terminal", fd, errno) }
        return WindowSize(rows: ws.ws_row, columns: ws.ws_col)
    }

    /// Sets the window size of terminal `fd` (its foreground process group gets SIGWINCH).
    public static func setWindowSize(_ fd: Int32, _ size: WindowSize) throws(CordonError) {
        var ws = winsize(ws_row: size.rows, ws_col: size.columns, ws_xpixel: 0, ws_ypixel: 0)
        guard ioctl(fd, UInt(TIOCSWINSZ), &ws) == 0 else { throw failure("cannot set the window size of terminal", fd, errno) }
    }

    /// A shim call's `-errno` result as the error.
    private static func check(_ what: String, _ fd: Int32, _ rc: Int32) throws(CordonError) {
        if rc < 0 { throw failure(what, fd, -rc) }
    }

    private static func failure(_ what: String, _ fd: Int32, _ code: Int32) -> CordonError {
        CordonError(.systemCall, "\(what) (descriptor \(fd))", cause: String(cString: strerror(code)))
    }
}
