import CordonCore
import Glibc

/// Messages for people on stderr — errors, warnings, notes — written unbuffered so they never
/// wait behind stdout, which is for data. The text is escaped for the terminal (controls other
/// than tab, newline and CRLF, bidi and invisible formatting): errors and notes carry paths, names
/// and profile text that an agent or a repository's author may have written.
enum Console {
    /// A note: a run's summary, a generated sandbox name, a trust question.
    static func note(_ text: String) {
        write(text)
    }

    static func warning(_ text: String) {
        write("warning: " + text)
    }

    /// An error as `PREFIX<message> (fix: …)`; the sandbox commands say `cordon: `, the config
    /// commands `error: ` (as they always have).
    static func error(_ error: any Error, prefix: String = "cordon: ") {
        write(prefix + "\(error)")
    }

    /// Runs `body`; an error is printed as `cordon: …` and becomes `status`.
    static func exitOnError(status: Int32 = 125, _ body: () throws -> Int32) -> Int32 {
        do { return try body() } catch {
            self.error(error)
            return status
        }
    }

    /// `text` as it reaches the terminal: escaped, ending in a newline. A CR is kept only as part
    /// of a CRLF (the line end a run's notes use while the terminal is in raw mode); a lone one,
    /// which would let text overwrite the line before it, is escaped like any control character.
    static func line(_ text: String) -> String {
        // Printable ASCII, tabs and newlines only (cordon's own lines, mostly): nothing to escape.
        if text.utf8.allSatisfy({ ($0 >= 0x20 && $0 < 0x7F) || $0 == 0x0A || $0 == 0x09 }) {
            return text.utf8.last == 0x0A ? text : text + "\n"
        }
        let line = text.split(separator: "\r\n" as Character, omittingEmptySubsequences: false)
            .map { TerminalText.escapedContent(String($0)) }.joined(separator: "\r\n")
        // "\r\n" is one Character: hasSuffix("\n") does not see it.
        return line.hasSuffix("\n") || line.hasSuffix("\r\n") ? line : line + "\n"
    }

    /// `line(text)`, in as many `write(2)`s as the kernel needs.
    static func write(_ text: String) {
        var bytes = Array(line(text).utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            bytes = bytes.dropFirst(written)
        }
    }
}
