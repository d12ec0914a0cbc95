import CordonCore
import Testing

/// The DNS-rebinding guard of the loopback HTTP endpoints: a page whose name was re-pointed at
/// 127.0.0.1 carries that name in Host and its origin in Origin, and is refused; programs (no
/// Origin) on a loopback name pass.
@Suite struct LoopbackRequestCheckTests {
    @Test(arguments: [
        "127.0.0.1", "127.0.0.1:8080", "localhost", "LOCALHOST:1", "[::1]", "[::1]:65535",
    ])
    func loopbackHostsPass(host: String) {
        #expect(LoopbackRequestCheck.refusal(host: host, origin: nil) == nil)
    }

    @Test(arguments: [
        "attacker.example", "attacker.example:8080", "127.0.0.1.nip.io:80", "localhost.attacker.example", "127.0.0.2:80",
        "[::1]x", "[::1", "localhost:", "localhost:80:80", "localhost:123456", "0.0.0.0:80", "2130706433:80", "",
    ])
    func otherHostsAreRefused(host: String) throws {
        let why = try #require(LoopbackRequestCheck.refusal(host: host, origin: nil))
        #expect(why.contains("not a loopback name"))
    }

    @Test func aMissingHostIsLeftToTheToken() {
        #expect(LoopbackRequestCheck.refusal(host: nil, origin: nil) == nil)
    }

    @Test(arguments: [
        "http://attacker.example", "https://attacker.example:8443", "null", "file://", "vscode-webview://abc",
        "http://localhost.attacker.example", "http://127.0.0.1/path", "http://localhost@attacker.example",
    ])
    func aForeignOriginIsRefused(origin: String) throws {
        let why = try #require(LoopbackRequestCheck.refusal(host: "127.0.0.1:9000", origin: origin))
        #expect(why.contains("not a loopback origin"))
    }

    @Test(arguments: ["http://127.0.0.1:9000", "http://localhost", "https://[::1]:3000"])
    func aLoopbackOriginPasses(origin: String) {
        #expect(LoopbackRequestCheck.refusal(host: "127.0.0.1:9000", origin: origin) == nil)
    }

    @Test func whatARefusalQuotesIsPrintableAndShort() throws {
        let why = try #require(LoopbackRequestCheck.refusal(host: "evil\u{1b}]0;owned\u{07}" + String(repeating: "a", count: 200), origin: nil))
        #expect(!why.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F })
        #expect(why.count < 200)
    }
}
