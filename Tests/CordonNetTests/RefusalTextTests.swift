import CordonPolicy
import CordonTestSupport
import Testing

@testable import CordonNet

/// A refusal says why and what allows it where the agent's tools show it: the status line of the
/// proxy's answer (Python's `Tunnel connection failed: 403 …`, pip) and its body. The host is the
/// agent's text: nothing it chose reaches the answer except safe characters.
@Suite(.serialized, .timeLimit(.minutes(2))) struct RefusalTextTests {
    static func statusLine(_ response: String) -> String {
        String(response.split(separator: "\r\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
    }

    @Test func connectStatusLineCarriesReasonAndFix() async throws {
        let lb = try await Loopback.start()
        defer { Task { await lb.stop() } }
        let connect = try await run(["python3", "-c", ProxyLoopbackTests.rawClient, "\(lb.proxyPort)"], input: "CONNECT unlisted.test:443 HTTP/1.1\r\n\r\n")
        #expect(
            Self.statusLine(connect.stdout)
                == "HTTP/1.1 403 Forbidden (cordon: unlisted.test is not in egress.domains; fix: cordon allow box unlisted.test (this run; add --always to keep it, or list it in egress.domains))",
            "\(connect.stdout)")
        #expect(
            connect.stdout.contains(
                "\r\n\r\ncordon refused unlisted.test:443: unlisted.test is not in egress.domains (rule not-listed). Allow it with: cordon allow box unlisted.test"
            ),
            "\(connect.stdout)")
        // A forward request too; a deny rule names the profile field, not `cordon allow`.
        let forward = try await run(
            ["python3", "-c", ProxyLoopbackTests.rawClient, "\(lb.proxyPort)"],
            input: "GET http://blocked.allowed.test/ HTTP/1.1\r\nHost: blocked.allowed.test\r\n\r\n")
        #expect(
            Self.statusLine(forward.stdout) == "HTTP/1.1 403 Forbidden (cordon: holds credentials; fix: remove it from the profile's egress.deny)",
            "\(forward.stdout)")
    }

    /// Python's own client, as pip uses it: the error it raises names the reason.
    @Test func pythonClientShowsTheReason() async throws {
        let lb = try await Loopback.start()
        defer { Task { await lb.stop() } }
        let client = """
            import http.client, sys
            c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
            c.set_tunnel("unlisted.test", 443)
            try:
                c.connect()
            except OSError as e:
                print(e)
            """
        let result = try await run(["python3", "-c", client, "\(lb.proxyPort)"])
        #expect(result.stdout.hasPrefix("Tunnel connection failed: 403 Forbidden (cordon: unlisted.test is not in egress.domains"), "\(result)")
    }

    /// The agent names a host of thousands of characters (the HTTP parser already refuses control
    /// characters, quotes and non-ASCII in a target): the answer stays short, the host in its
    /// header bounded.
    @Test func aHugeHostGetsABoundedAnswer() async throws {
        let lb = try await Loopback.start()
        defer { Task { await lb.stop() } }
        let host = String(repeating: "a", count: 3000) + ".test"
        let connect = try await run(["python3", "-c", ProxyLoopbackTests.rawClient, "\(lb.proxyPort)"], input: "CONNECT \(host):443 HTTP/1.1\r\n\r\n")
        #expect(connect.stdout.hasPrefix("HTTP/1.1 403 Forbidden (cordon: "), "\(connect.stdout.prefix(400))")
        #expect(Self.statusLine(connect.stdout).count < 320)
        let header = connect.stdout.split(separator: "\r\n").first { $0.hasPrefix("X-Cordon-Denied: ") } ?? ""
        #expect(header.contains("rule=invalid-host") && header.count < 300, "\(header.prefix(400))")
        #expect(connect.stdout.count < 2000)
    }

    @Test func shownHostAndPhraseAreBounded() {
        let long = String(repeating: "a", count: 5000) + ".test"
        let decision = Decision(verdict: .deny, host: long, port: 443, rule: "invalid-host", reason: "not a valid host name: \(long)")
        #expect(decision.shownHost.count <= 103)
        #expect(decision.statusReason("Forbidden", sandbox: "box").count < 300)
        #expect(decision.refusalBody(sandbox: "box").count < 1010)
        let odd = Decision(verdict: .deny, host: "a\u{1B}b\nc", port: 80, rule: "invalid-host", reason: "bad")
        #expect(odd.shownHost == "a?b?c")
    }
}
