import CordonCore
import CordonNet
import Glibc

/// Asks about a held connection in the terminal that ran `cordon run` (the host terminal is in
/// raw mode and its input belongs to cordon's pty relay, so the relay simply pauses meanwhile).
enum TerminalPrompt {
    /// How long the question stays open; the proxy's own timeout denies after this.
    static let timeout: Double = 60

    static func ask(_ request: ApprovalBroker.Request, sandbox: String, broker: ApprovalBroker) {
        guard broker.isPending(request.id) else { return }
        say(
            "\r\n\u{1B}[1mcordon:\u{1B}[0m \(sandbox) wants to reach \(TerminalText.escaped(request.host)):\(request.port) — allow [o]nce, [a]lways, or [d]eny? "
        )
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let end = Double(deadline.tv_sec) + timeout
        while broker.isPending(request.id) {
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            if Double(now.tv_sec) >= end { break }
            var fd = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
            guard poll(&fd, 1, 250) > 0 else { continue }
            var byte: UInt8 = 0
            guard read(0, &byte, 1) == 1 else { break }
            let answer: ApprovalAnswer?
            switch Character(UnicodeScalar(byte)) {
            case "o", "O", "y", "Y": answer = .allowOnce
            case "a", "A": answer = .allowAlways
            case "d", "D", "n", "N", "\u{1B}": answer = .deny
            default: answer = nil
            }
            guard let answer else { continue }
            broker.answer(id: request.id, answer)
            say(answer == .deny ? "denied\r\n" : answer == .allowAlways ? "allowed always\r\n" : "allowed for this run\r\n")
            return
        }
        say(broker.isPending(request.id) ? "no answer: denied\r\n" : "answered elsewhere\r\n")
    }

    private static func say(_ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
            if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
            bytes = bytes.dropFirst(n)
        }
    }
}
