public import CordonCore
import Glibc

extension Terminal {
    /// Runs `body` with terminal `fd`'s echo off (a passphrase or secret typed at a prompt), and
    /// puts the modes back afterwards, also when `body` throws.
    public static func withoutEcho<R>(_ fd: Int32, _ body: () throws(CordonError) -> R) throws(CordonError) -> R {
        var saved = termios()
        guard tcgetattr(fd, &saved) == 0 else {
            throw SystemError.current("tcgetattr", "the terminal").cordonError(.io, "cannot read the terminal's modes to turn its echo off")
        }
        var quiet = saved
        quiet.c_lflag &= ~tcflag_t(ECHO)
        quiet.c_lflag |= tcflag_t(ECHONL)
        guard tcsetattr(fd, TCSAFLUSH, &quiet) == 0 else {
            throw SystemError.current("tcsetattr", "the terminal").cordonError(.io, "cannot turn the terminal's echo off")
        }
        defer { _ = tcsetattr(fd, TCSAFLUSH, &saved) }
        return try body()
    }
}
