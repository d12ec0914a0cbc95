@testable import CordonCommands
import CordonCore
@testable import CordonFS
import Testing

/// What `cordon diff` and `cordon sync` print of the agent's names, targets and files reaches the
/// user's terminal: nothing in it may act on the terminal or read other than it is.
struct TerminalEscapingTests {
    static let dangerous: [Unicode.Scalar] = ["\u{1B}", "\u{07}", "\u{9B}", "\u{202E}", "\u{2066}", "\u{200F}", "\u{0D}"]

    func isSafe(_ text: String) -> Bool {
        !text.unicodeScalars.contains { Self.dangerous.contains($0) }
    }

    @Test func diffLinesEscapeNamesAndTargets() {
        let link = Change(kind: .added, path: "a\u{1B}[1A\u{1B}[2Kb", type: .symlink, symlinkTarget: "../\u{1B}]52;c;ZWNobw==\u{07}")
        let line = DiffCommand.line(link, stat: false)
        #expect(isSafe(line), "\(line)")
        #expect(line.contains("a\\x1B[1A\\x1B[2Kb"))
        let reversed = Change(kind: .added, path: "invoice\u{202E}fdp.exe", type: .file, size: 3)
        #expect(DiffCommand.line(reversed, stat: false).contains("invoice\\u{202E}fdp.exe"))
    }

    /// `cordon net log` shows the names the agent asked for (DNS queries, SOCKS and CONNECT
    /// hosts): a clipboard write, a screen clear or a bidi override in one is escaped.
    @Test func netLogLinesEscapeTheAgentsNames() {
        let entry = NetLogCommand.Entry(
            time: "2026-12-06T10:00:00.000Z", method: "dns", host: "x\u{1B}]52;c;ZWNobw==\u{07}\u{1B}[2J.evil\u{202E}moc", port: 1,
            address: "\u{1B}[1A", decision: "deny", rule: "default", reason: "not allowed: \u{9B}31m", bytes_up: 0, bytes_down: 0)
        let line = NetLogCommand.format(entry)
        #expect(isSafe(line), "\(line)")
        #expect(line.contains("x\\x1B]52;c;ZWNobw==\\x07"))
    }

    /// Errors and notes on stderr quote names from the sandbox and text from a repository's
    /// profile: a sequence in them must not reach the terminal, while the message keeps its lines.
    @Test func consoleMessagesAreEscapedButKeepTheirLines() {
        let error = CordonError(.notFound, "no sandbox at /s/x\u{1B}]52;c;ZWNobw==\u{07}\u{1B}[2J", hint: "look \u{202E}here")
        let line = Console.line("cordon: \(error)")
        #expect(isSafe(line), "\(line)")
        #expect(line.contains("\\x1B]52;c;ZWNobw==\\x07\\x1B[2J"))
        #expect(Console.line("first\n\tsecond") == "first\n\tsecond\n")
        #expect(Console.line("frozen.\r\ncordon: end it") == "frozen.\r\ncordon: end it\n", "a raw-mode line end stays")
        #expect(Console.line("ok\rFAKE") == "ok\\x0DFAKE\n", "a lone CR cannot overwrite the line")
    }

    @Test func escapesAreReadableAndPlainNamesUntouched() {
        #expect(TerminalText.escaped("a\u{1B}b") == "a\\x1Bb")
        #expect(TerminalText.escaped("dir\\file") == "dir\\file")
        #expect(TerminalText.escaped("plain name.txt") == "plain name.txt")
    }

    @Test func patchContentKeepsCodeButNotControlSequences() {
        let text = TerminalText.escapedContent("let s = \"a\\n\"\n\tindent\n\u{1B}[2Jgone\u{202E}\n")
        #expect(text == "let s = \"a\\n\"\n\tindent\n\\x1B[2Jgone\\u{202E}\n")
    }
}
