import CordonNet
import CordonTestSupport
import Foundation
import NIOCore
import NIOPosix
import Testing

/// `egress.parent_proxy`: allowed traffic leaves through the organisation's proxy (a CONNECT-only
/// parent on loopback that logs each request line), refused traffic never reaches it, and
/// `no_proxy` names go direct. Policy stays cordon's.
@Suite(.serialized) struct ParentProxyTests {
    /// A parent proxy: accepts CONNECT, logs the request line, and (its own "DNS") takes every
    /// name to 127.0.0.1 at the requested port.
    static let parentScript = #"""
        import socket, sys, threading
        logpath = sys.argv[1]
        srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(('127.0.0.1', 0)); srv.listen(64)
        print(srv.getsockname()[1], flush=True)
        def pipe(a, b):
            try:
                while True:
                    d = a.recv(65536)
                    if not d: break
                    b.sendall(d)
            except OSError: pass
            finally:
                try: b.shutdown(socket.SHUT_WR)
                except OSError: pass
        def handle(c):
            buf = b''
            while b'\r\n\r\n' not in buf:
                d = c.recv(4096)
                if not d: return
                buf += d
            head, rest = buf.split(b'\r\n\r\n', 1)
            line = head.split(b'\r\n')[0].decode()
            with open(logpath, 'a') as log: log.write(line + '\n')
            if not line.startswith('CONNECT '):
                c.sendall(b'HTTP/1.1 405 Method Not Allowed\r\n\r\n'); c.close(); return
            u = socket.create_connection(('127.0.0.1', int(line.split(' ')[1].rsplit(':', 1)[1])))
            c.sendall(b'HTTP/1.1 200 Connection established\r\n\r\n')
            if rest: u.sendall(rest)
            threading.Thread(target=pipe, args=(u, c), daemon=True).start()
            pipe(c, u)
        while True:
            c, _ = srv.accept()
            threading.Thread(target=handle, args=(c,), daemon=True).start()
        """#

    /// Immutable after init; `Process` is only read (its pid) and waited for.
    final class Parent: @unchecked Sendable {
        let process = Process()
        let port: Int
        let logPath = "/tmp/cordon-parent-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log"

        /// Starts the parent off the cooperative pool (reading its port blocks).
        static func start() async throws -> Parent {
            try await onOwnThread { try Parent() }
        }

        private init() throws {
            let out = Pipe()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = ["-c", ParentProxyTests.parentScript, logPath]
            process.standardOutput = out
            try process.run()
            var line = Data()
            while !line.contains(10) {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                line.append(chunk)
            }
            port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        }

        var requests: [String] {
            (try? String(contentsOfFile: logPath, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
        }

        func stop() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            unlink(logPath)
        }
    }

    @Test func allowedTrafficLeavesThroughTheParentAndRefusedTrafficNeverReachesIt() async throws {
        let parent = try await Parent.start()
        defer { parent.stop() }
        let lb = try await Loopback.start { configuration in
            configuration.parentProxy = .init(url: "http://127.0.0.1:\(parent.port)", noProxy: ["direct.test"])
            // direct.test: allowed like allowed.test (the origin's port), pinned to loopback.
            if let port = configuration.domains.first?.split(separator: ":").last { configuration.domains.append("direct.test:\(port)") }
            configuration.resolve["direct.test"] = "127.0.0.1"
        }
        defer { Task { await lb.stop() } }
        #expect(parent.port > 0)
        let target = "allowed.test:\(lb.originPort)"

        // CONNECT through cordon: cordon decides, then asks the parent for the same name.
        let tunnel = try await run(["curl", "-sS", "--max-time", "10", "-p", "-x", "http://127.0.0.1:\(lb.proxyPort)", "http://\(target)/"])
        #expect(tunnel.stdout == "hello \(target)\n", "\(tunnel.stderr)")
        // Plain HTTP forward: also a CONNECT to the parent, the request inside it.
        let forward = try await run(["curl", "-sS", "--max-time", "10", "-x", "http://127.0.0.1:\(lb.proxyPort)", "http://\(target)/"])
        #expect(forward.stdout == "hello \(target)\n", "\(forward.stderr)")
        #expect(parent.requests.filter { $0 == "CONNECT \(target) HTTP/1.1" }.count == 2, "\(parent.requests)")

        // A no_proxy name goes straight to the origin (still decided and logged by cordon).
        let direct = "direct.test:\(lb.originPort)"
        let bypass = try await run(["curl", "-sS", "--max-time", "10", "-p", "-x", "http://127.0.0.1:\(lb.proxyPort)", "http://\(direct)/"])
        #expect(bypass.stdout == "hello \(direct)\n", "\(bypass.stderr)")
        #expect(!parent.requests.contains { $0.contains("direct.test") }, "\(parent.requests)")
        #expect(await lb.waitForLog { $0.contains("\"direct.test\"") && $0.contains("\"allow\"") } != nil, "\(lb.logLines)")

        // Refused by cordon's policy: the parent never hears of it.
        let refused = try await run(["curl", "-sS", "--max-time", "10", "-p", "-x", "http://127.0.0.1:\(lb.proxyPort)", "http://unlisted.test:\(lb.originPort)/"])
        #expect(refused.status != 0)
        #expect(!parent.requests.contains { $0.contains("unlisted.test") })
    }

    @Test func transparentFlowsGoThroughTheParentByName() async throws {
        let parent = try await Parent.start()
        defer { parent.stop() }
        let lb = try await Loopback.start { configuration in
            configuration.parentProxy = .init(url: "http://127.0.0.1:\(parent.port)", noProxy: [])
        }
        defer { Task { await lb.stop() } }
        let names = HandedOutNames()
        // The stub would hand out an address the parent's network cannot reach directly.
        names.record("allowed.test", [IPAddress("127.0.0.1")!])
        let proxy = EgressProxy(
            policy: lb.proxy.policy, log: lb.proxy.log, resolver: NoResolver(), nameLookup: names,
            options: .init(sandbox: "box", sniffTimeout: .milliseconds(300)))
        let relay = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                proxy.handleTransparent(channel: channel, originalDestination: IPAddress("127.0.0.1")!, port: lb.originPort)
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { relay.close(promise: nil) }
        let relayPort = try #require(relay.localAddress?.port)
        let r = try await run([
            "curl", "-sS", "--max-time", "10", "--noproxy", "*", "-H", "Host: allowed.test:\(lb.originPort)", "http://127.0.0.1:\(relayPort)/",
        ])
        #expect(r.stdout == "hello allowed.test:\(lb.originPort)\n", "\(r.stderr)")
        #expect(parent.requests.contains("CONNECT allowed.test:\(lb.originPort) HTTP/1.1"), "\(parent.requests)")
    }
}
