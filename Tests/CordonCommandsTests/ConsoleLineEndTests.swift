import Testing

@testable import CordonCommands

/// A note that ends in CRLF (a live line while the terminal is raw) gets no second line end:
/// "\r\n" is one Character, and an extra "\n" would leave a blank line on the terminal.
struct ConsoleLineEndTests {
    @Test func aCRLFEndIsTheLineEnd() {
        #expect(Console.line("cordon: refused example.com\r\n") == "cordon: refused example.com\r\n")
        #expect(Console.line("a\r\nb") == "a\r\nb\n")
    }
}
