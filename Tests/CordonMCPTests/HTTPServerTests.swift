import CordonCore
import CordonTestSupport
import Foundation
import MCP
import Synchronization
import Testing

@testable import CordonMCP

/// `cordon mcp --http`'s listener, with curl: 127.0.0.1 only, 401 (and no session made) without
/// the token or with another, 404 off /mcp, and a session (Mcp-Session-Id) with it.
@Suite(.timeLimit(.minutes(1)))
struct HTTPServerTests {
    final class Counter: Sendable {
        let made = Mutex(0)
    }

    static let initialize =
        #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#

    func curl(_ port: Int, path: String = "/mcp", headers: [String], body: String = initialize) async throws -> (status: Int, head: String) {
        var argv = ["/usr/bin/curl", "-s", "-o", "/dev/null", "-D", "-", "--max-time", "10", "-X", "POST", "http://127.0.0.1:\(port)\(path)"]
        for header in ["Content-Type: application/json", "Accept: application/json, text/event-stream"] + headers { argv += ["-H", header] }
        argv += ["--data-binary", body]
        let r = try await ProcessRunner.run(argv, timeout: .seconds(20))
        let status = r.stdout.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return (status, r.stdout)
    }

    /// A server on a free port whose sessions are counted as they are made.
    static func start(token: String) async throws -> (HTTPServer, Counter) {
        let root = try TempTree.makeDirectory()
        let context = MCPContext(
            cli: CordonCLI(executable: "/bin/false", environment: []), paths: CordonPaths(configHome: root + "/c", stateHome: root + "/s"), workspace: root)
        let counter = Counter()
        let sessions = HTTPSessions {
            counter.made.withLock { $0 += 1 }
            return await CordonMCPServer.make(context: context, version: "test")
        }
        return (try await HTTPServer.start(port: 0, token: token, sessions: sessions), counter)
    }

    @Test func theTokenGatesEveryRequest() async throws {
        let token = String(repeating: "0f", count: 32)
        let (server, counter) = try await Self.start(token: token)
        let port = server.port
        #expect(port > 0)
        for headers in [
            [], ["Authorization: Bearer " + String(repeating: "0f", count: 31) + "00"], ["Authorization: Basic " + token], ["Authorization: " + token],
        ] {
            let (status, head) = try await curl(port, headers: headers)
            #expect(status == 401, "\(headers): \(head)")
            #expect(head.lowercased().contains("www-authenticate: bearer"), "\(head)")
            #expect(!head.lowercased().contains("mcp-session-id"), "\(head)")
        }
        #expect(counter.made.withLock { $0 } == 0)
        let (elsewhere, _) = try await curl(port, path: "/other", headers: ["Authorization: Bearer " + token])
        #expect(elsewhere == 404)
        let (status, head) = try await curl(port, headers: ["Authorization: Bearer " + token])
        #expect(status == 200, "\(head)")
        #expect(head.lowercased().contains("mcp-session-id:"), "\(head)")
        #expect(counter.made.withLock { $0 } == 1)
        await server.stop()
    }

    /// DNS rebinding: a page whose name now resolves to 127.0.0.1 sends its own name as Host and
    /// its origin as Origin. Even with the right token (which such a page cannot know) the request
    /// is refused with 403 and no session is made; a program's request (loopback Host, no Origin)
    /// goes on.
    @Test func aRebindingPageIsRefusedBeforeAnySession() async throws {
        let token = String(repeating: "1a", count: 32)
        let (server, counter) = try await Self.start(token: token)
        let bearer = "Authorization: Bearer " + token
        for headers in [
            [bearer, "Host: attacker.example:\(server.port)"], [bearer, "Origin: http://attacker.example"],
            [bearer, "Host: localhost.attacker.example"], [bearer, "Origin: null"],
        ] {
            let (status, head) = try await curl(server.port, headers: headers)
            #expect(status == 403, "\(headers): \(head)")
            #expect(!head.lowercased().contains("mcp-session-id"), "\(head)")
        }
        #expect(counter.made.withLock { $0 } == 0)
        let (status, head) = try await curl(server.port, headers: [bearer, "Host: localhost:\(server.port)", "Origin: http://127.0.0.1:\(server.port)"])
        #expect(status == 200, "\(head)")
        await server.stop()
    }
}
