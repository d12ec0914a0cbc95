import CordonCore
import CordonPolicy
import CordonNet
import CordonTestSupport
import Foundation
import NIOCore
import NIOPosix
import Testing

/// `egress.parent_proxy`: allowed traffic leaves through the organisation's proxy (a CONNECT-only
/// parent on loopback that logs each request line), refused traffic never reaches it, and
/// `no_proxy` names go direct. Policy stays cordon's.
@Suite(.serialized, .timeLimit(.minutes(3))) struct ParentProxyTests {
    /// A parent proxy: accepts CONNECT, logs the request line, and (its own "DNS") takes every
    /// name to 127.0.0.1 at the requested port.
    static let parentScript = #"""
        import socket, ssl, sys, threading
        logpath = sys.argv[1]
        tls = None
        if len(sys.argv) > 3:  # certificate and key: the parent speaks TLS only
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); tls.load_cert_chain(sys.argv[2], sys.argv[3])
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
            if tls:
                try: c = tls.wrap_socket(c, server_side=True)
                except (OSError, ssl.SSLError) as e:
                    with open(logpath, 'a') as log: log.write('TLS failed\n')
                    c.close(); return
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

    final class Parent: Sendable {
        let process: RunningProcess
        let port: Int
        let scratch: TempTree
        var logPath: String { scratch.path("parent.log") }

        /// Starts the parent off the cooperative pool (reading its port blocks); with `tls`
        /// (certificate and key files) it speaks TLS only.
        static func start(tls: (certificate: String, key: String)? = nil) async throws -> Parent {
            try await onOwnThread { try Parent(tls: tls) }
        }

        private init(tls: (certificate: String, key: String)?) throws {
            let scratch = try TempTree(prefix: "cordon-parent")
            self.scratch = scratch
            process = try RunningProcess(
                ["/usr/bin/python3", "-c", ParentProxyTests.parentScript, scratch.path("parent.log")] + (tls.map { [$0.certificate, $0.key] } ?? []),
                discardStderr: true)
            port = Int((try? process.readLine())?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
        }

        var requests: [String] {
            (try? String(contentsOfFile: logPath, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
        }

        func stop() { process.killInBackground() }
    }

    @Test func allowedTrafficLeavesThroughTheParentAndRefusedTrafficNeverReachesIt() async throws {
        let parent = try await Parent.start()
        defer { parent.stop() }
        let lb = try await Loopback.start { configuration in
            configuration.parentProxy = try .init(url: "http://127.0.0.1:\(parent.port)", noProxy: ["direct.test"])
            // direct.test: allowed like allowed.test (the origin's port), pinned to loopback.
            if let port = configuration.domains.first?.value.port { try configuration.allow("direct.test:\(port)") }
            try configuration.pin("direct.test", "127.0.0.1")
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
        let refused = try await run([
            "curl", "-sS", "--max-time", "10", "-p", "-x", "http://127.0.0.1:\(lb.proxyPort)", "http://unlisted.test:\(lb.originPort)/",
        ])
        #expect(refused.status != 0)
        #expect(!parent.requests.contains { $0.contains("unlisted.test") })
    }

    @Test func transparentFlowsGoThroughTheParentByName() async throws {
        let parent = try await Parent.start()
        defer { parent.stop() }
        let lb = try await Loopback.start { configuration in
            configuration.parentProxy = try .init(url: "http://127.0.0.1:\(parent.port)", noProxy: [])
        }
        defer { Task { await lb.stop() } }
        let names = HandedOutNames()
        // The stub would hand out an address the parent's network cannot reach directly.
        names.record("allowed.test", [IPAddress("127.0.0.1")!])
        let proxy = EgressProxy(
            policy: lb.proxy.policy, log: lb.proxy.log, resolver: NoResolver(), nameLookup: names,
            // Long enough for a curl started on a loaded machine to send its request (a sniff that
            // times out first resets the flow).
            options: .init(sandbox: "box", sniffTimeout: .seconds(10)))
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

    /// An `https://` parent: cordon speaks TLS to the proxy itself, checks its certificate
    /// against `ca_file` and the proxy's name or address, and sends the CONNECT and the tunnel
    /// inside. A parent whose certificate does not chain to the CA, or names another host, gets
    /// no CONNECT at all: the flow fails (502) and the log says why.
    @Test func anHTTPSParentIsVerifiedAndCarriesTheTunnel() async throws {
        let scratch = try TempTree(prefix: "cordon-parent-tls")
        let directory = scratch.root
        func certificate(_ name: String, names: String) async throws -> (certificate: String, key: String) {
            let files = (certificate: "\(directory)/\(name).pem", key: "\(directory)/\(name).key")
            let made = try await run([
                "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                "-subj", "/CN=\(name)", "-addext", "subjectAltName=\(names)", "-keyout", files.key, "-out", files.certificate,
            ])
            try #require(made.status == 0, "\(made.stderr)")
            return files
        }
        let byName = try await certificate("parent.test", names: "DNS:parent.test")
        let byAddress = try await certificate("address", names: "IP:127.0.0.1")
        let stranger = try await certificate("stranger.test", names: "DNS:parent.test,IP:127.0.0.1")
        let named = try await Parent.start(tls: byName)
        defer { named.stop() }
        let addressed = try await Parent.start(tls: byAddress)
        defer { addressed.stop() }

        for (url, caFile) in [("https://parent.test:\(named.port)", byName.certificate), ("https://127.0.0.1:\(addressed.port)", byAddress.certificate)] {
            let lb = try await Loopback.start { configuration in
                configuration.parentProxy = try .init(url: url, caFile: caFile)
                try configuration.pin("parent.test", "127.0.0.1")
            }
            defer { Task { await lb.stop() } }
            let target = "allowed.test:\(lb.originPort)"
            let tunnel = try await run(["curl", "-sS", "--max-time", "10", "-p", "-x", "http://127.0.0.1:\(lb.proxyPort)", "http://\(target)/"])
            #expect(tunnel.stdout == "hello \(target)\n", "\(url): \(tunnel.stderr)")
            let forward = try await run(["curl", "-sS", "--max-time", "10", "-x", "http://127.0.0.1:\(lb.proxyPort)", "http://\(target)/"])
            #expect(forward.stdout == "hello \(target)\n", "\(url): \(forward.stderr)")
        }
        for parent in [named, addressed] {
            #expect(parent.requests.filter { $0.hasPrefix("CONNECT allowed.test:") }.count == 2, "\(parent.requests)")
            #expect(!parent.requests.contains("TLS failed"))
        }

        // Not trusted: the system's roots (no ca_file), or a CA the parent's certificate does not
        // chain to (one with the same names); then trusted certificates that name another host
        // (other.test and the bare address for a certificate issued to parent.test only).
        let cases: [(url: String, caFile: String?)] = [
            ("https://parent.test:\(named.port)", nil), ("https://parent.test:\(named.port)", stranger.certificate),
            ("https://other.test:\(named.port)", byName.certificate), ("https://127.0.0.1:\(named.port)", byName.certificate),
        ]
        for (url, caFile) in cases {
            let before = named.requests.count
            let lb = try await Loopback.start { configuration in
                configuration.parentProxy = try .init(url: url, caFile: caFile)
                try configuration.pin("parent.test", "127.0.0.1")
                try configuration.pin("other.test", "127.0.0.1")
            }
            defer { Task { await lb.stop() } }
            let target = "allowed.test:\(lb.originPort)"
            let forward = try await run([
                "curl", "-sS", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}", "-x", "http://127.0.0.1:\(lb.proxyPort)", "http://\(target)/",
            ])
            #expect(forward.stdout == "502", "\(url) \(caFile ?? "system roots"): \(forward.stdout) \(forward.stderr)")
            #expect(!named.requests.dropFirst(before).contains { $0.hasPrefix("CONNECT") }, "\(named.requests)")
            #expect(await lb.waitForLog { $0.contains("\"decision\":\"error\"") && $0.contains("TLS to the parent proxy failed") } != nil, "\(lb.logLines)")
        }
    }

    /// A CA file that holds no certificate stops the egress set-up (and so the sandbox) from
    /// starting. The file is read where the dialer is built; the policy itself does no I/O.
    @Test func aBadCAFileIsAProfileError() throws {
        let scratch = try TempTree(prefix: "cordon-parent-ca")
        let path = scratch.path("ca.pem")
        _ = FileManager.default.createFile(atPath: path, contents: Data("not a certificate\n".utf8))
        for caFile in [path, "/nonexistent/ca.pem"] {
            let configuration = try EgressConfiguration(domains: ["a.test"], parentProxy: .init(url: "https://p.test:3129", caFile: caFile))
            _ = try EgressPolicy(configuration)
            let error = #expect(throws: CordonError.self) {
                try SandboxEgress(configuration: configuration, sandbox: "box", logPath: nil)
            }
            #expect(error?.message.contains("egress.parent_proxy.ca_file") == true, "\(String(describing: error))")
        }
        #expect(throws: CordonError.self) {
            try EgressPolicy(EgressConfiguration(domains: ["a.test"], parentProxy: .init(url: "http://p.test:3128", caFile: path)))
        }
        #expect(ParentProxyAddress("https://p.test")?.port == 443)
        #expect(ParentProxyAddress("https://p.test")?.tls == true)
        #expect(ParentProxyAddress("http://p.test")?.port == 80)
    }
}
