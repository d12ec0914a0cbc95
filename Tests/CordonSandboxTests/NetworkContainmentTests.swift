import CordonIsolation
import CordonTestSupport
import Foundation
import Glibc
import Testing

/// Egress from a real sandbox to real servers on the host's loopback: what the profile allows
/// gets through (with and without proxy settings), everything else is refused with a reason,
/// and every decision is in the network log. Names are pinned with `egress.resolve`.
@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"), .timeLimit(.minutes(5)))
struct NetworkContainmentTests {
    /// A profile allowing allowed.test on the server's port; internal.test and metadata.test are
    /// listed too but resolve to private and metadata addresses.
    static func profile(port: Int, extra: String = "") -> String {
        """
        name: nettest
        egress:
          domains: ["allowed.test:\(port)", "internal.test:\(port)", "metadata.test"]
          allow_private: ["127.0.0.0/8"]
          resolve: {allowed.test: 127.0.0.1, internal.test: 10.1.2.3, metadata.test: 169.254.169.254}
          deny: [{domain: "nope.allowed.test", reason: "not this one"}]
        \(extra)
        """
    }

    /// Python run inside the sandbox: raw DNS queries (rcode, answers) to any server address.
    static let dnsClient = #"""
        import socket, struct, sys
        def query(name, qtype, server="8.8.8.8"):
            q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
            for label in name.split("."): q += bytes([len(label)]) + label.encode()
            q += b"\0" + struct.pack(">HH", qtype, 1)
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
            s.sendto(q, (server, 53))
            r = s.recv(4096)
            return r[3] & 0xF, struct.unpack(">H", r[6:8])[0]
        for name, qtype in [("allowed.test", 1), ("allowed.test", 16), ("unlisted.test", 1)]:
            print("dns", name, qtype, *query(name, qtype))
        """#

    /// Python run inside the sandbox: what a tool with no proxy settings can and cannot reach.
    static func probes(port: Int) -> String {
        #"""
        import socket, errno
        def attempt(label, fn):
            try: print(label, fn())
            except Exception as e: print(label, "error", type(e).__name__)
        def http_raw(host, port, request):
            s = socket.create_connection((host, port), timeout=5)
            s.sendall(request); data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk: break
                data += chunk
            return data.decode(errors="replace").split("\r\n")[0] + " | " + data.decode(errors="replace").splitlines()[-1] if data else "closed"
        attempt("py-allowed", lambda: http_raw("allowed.test", PORT, b"GET / HTTP/1.1\r\nHost: allowed.test\r\nConnection: close\r\n\r\n"))
        attempt("py-iplit", lambda: http_raw("192.0.2.10", 80, b"GET / HTTP/1.1\r\nHost: 192.0.2.10\r\nConnection: close\r\n\r\n"))
        attempt("py-opaque", lambda: http_raw("192.0.2.10", 22, b"SSH-2.0-probe\r\n"))
        attempt("proxy-decimal", lambda: http_raw("127.0.0.1", 3128, b"GET http://2130706433:PORT/ HTTP/1.1\r\nHost: 2130706433:PORT\r\nConnection: close\r\n\r\n"))
        attempt("proxy-hex", lambda: http_raw("127.0.0.1", 3128, b"GET http://0x7f.0.0.1:PORT/ HTTP/1.1\r\nHost: 0x7f.0.0.1:PORT\r\nConnection: close\r\n\r\n"))
        attempt("proxy-octal", lambda: http_raw("127.0.0.1", 3128, b"GET http://0177.0.0.1:PORT/ HTTP/1.1\r\nHost: 0177.0.0.1:PORT\r\nConnection: close\r\n\r\n"))
        def udp():
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
            s.sendto(b"ping", ("9.9.9.9", 123))
            return s.recv(100)
        attempt("udp", udp)
        attempt("icmp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP))
        attempt("raw", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))
        attempt("ipv6", lambda: socket.create_connection(("2001:db8::1", 80), timeout=3))
        attempt("metadata-direct", lambda: http_raw("169.254.169.254", 80, b"GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n"))
        """#.replacingOccurrences(of: "PORT", with: "\(port)")
    }

    static func line(_ output: String, _ label: String) -> String {
        output.split(separator: "\n").first { $0.hasPrefix(label + " ") }.map { String($0.dropFirst(label.count + 1)) } ?? "<missing>"
    }

    func networkLog(_ h: SandboxHarness, _ name: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: h.state + "/cordon/sandboxes/\(name)/network.jsonl", encoding: .utf8)
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func hasEntry(_ log: [[String: Any]], decision: String, rule: String? = nil, host: String? = nil, method: String? = nil) -> Bool {
        log.contains { entry in
            entry["decision"] as? String == decision && (rule == nil || entry["rule"] as? String == rule)
                && (host == nil || entry["host"] as? String == host) && (method == nil || entry["method"] as? String == method)
        }
    }

    /// The full matrix as root, and as an unprivileged user (the capture needs no host privilege).
    @Test(arguments: [false, true])
    func allowedNamesPassAndEverythingElseIsRefused(unprivileged: Bool) async throws {
        if unprivileged && !SandboxHarness.isRoot { return }
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let server = try await LoopbackServer.start()
        defer { server.stop() }
        let port = server.port
        try h.write("profile.yaml", Self.profile(port: port), in: h.root)
        try h.write("dns.py", Self.dnsClient)
        try h.write("probes.py", Self.probes(port: port))
        let script = """
            echo "curl-direct $(curl -sS -m 5 --noproxy '*' http://allowed.test:\(port)/a)"
            echo "curl-proxy $(curl -sS -m 5 http://allowed.test:\(port)/b)"
            echo "curl-unlisted $(curl -sS -m 5 -o /dev/null -w '%{http_code}' http://unlisted.test/)"
            echo "curl-unlisted-header $(curl -sS -m 5 -D - -o /dev/null http://unlisted.test/ | grep -i '^x-cordon-denied' | tr -d '\\r')"
            echo "curl-denied $(curl -sS -m 5 http://nope.allowed.test/)"
            echo "curl-iplit $(curl -sS -m 5 -o /dev/null -w '%{http_code}' http://93.184.216.34/)"
            echo "curl-private $(curl -sS -m 5 http://internal.test:\(port)/)"
            echo "curl-metadata $(curl -sS -m 5 http://metadata.test/latest/meta-data/)"
            echo "curl-host-mismatch $(curl -sS -m 5 -H 'Host: evil.test' http://allowed.test:\(port)/)"
            echo "curl-direct-host-mismatch $(curl -sS -m 5 --noproxy '*' -H 'Host: unlisted.test' http://allowed.test:\(port)/)"
            echo "curl-other-port $(curl -sS -m 5 -o /dev/null -w '%{http_code}' http://allowed.test:\(port + 1)/)"
            getent hosts unlisted.test >/dev/null; echo "getent-unlisted $?"
            echo "getent-allowed $(getent ahostsv4 allowed.test | head -n1 | cut -d' ' -f1)"
            python3 /workspace/dns.py
            python3 /workspace/probes.py
            """
        let argv = ["run", "--name", "net", "--workspace", h.workspace, "--profile", h.root + "/profile.yaml", "--", "/bin/sh", "-c", script]
        let r: SandboxHarness.Result
        if unprivileged {
            _ = try await SandboxHarness.run(["/bin/chown", "-R", "65534:65534", h.root], environment: nil)
            _ = try await SandboxHarness.run(["/bin/chmod", "755", h.root], environment: nil)
            r = try await SandboxHarness.run(
                ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", SandboxHarness.cordon] + argv,
                environment: h.environment(), directory: h.workspace)
        } else {
            r = try await h.cordon(argv)
        }
        #expect(r.status == 0, "\(r.stderr)")
        let out = r.stdout
        // Allowed: with no proxy settings (transparent capture), through the proxy, from python.
        #expect(Self.line(out, "curl-direct") == "hello allowed.test:\(port)", "\(out)\n\(r.stderr)")
        #expect(Self.line(out, "curl-proxy") == "hello allowed.test:\(port)")
        #expect(Self.line(out, "py-allowed").hasPrefix("HTTP/1.0 200") || Self.line(out, "py-allowed").hasPrefix("HTTP/1.1 200"), "\(out)")
        #expect(Self.line(out, "py-allowed").hasSuffix("hello allowed.test"))
        // Refused, with reasons the agent can read.
        #expect(Self.line(out, "curl-unlisted") == "403")
        #expect(Self.line(out, "curl-unlisted-header").contains("unlisted.test"))
        #expect(Self.line(out, "curl-unlisted-header").contains("cordon allow net unlisted.test"))
        #expect(Self.line(out, "curl-denied").contains("not this one"))
        #expect(Self.line(out, "curl-iplit") == "403")
        #expect(Self.line(out, "curl-private").contains("10.1.2.3"))
        #expect(Self.line(out, "curl-metadata").contains("169.254.169.254"))
        #expect(!Self.line(out, "curl-host-mismatch").hasPrefix("hello"))
        #expect(!Self.line(out, "curl-direct-host-mismatch").hasPrefix("hello"))
        #expect(Self.line(out, "curl-other-port") == "403")
        // DNS: only allowed names resolve (to a stand-in: the real address is the host's loopback).
        #expect(Self.line(out, "getent-unlisted") == "2")
        #expect(Self.line(out, "getent-allowed").hasPrefix("198.18."))
        #expect(out.contains("dns allowed.test 1 0 1"), "\(out)")
        #expect(out.contains("dns allowed.test 16 5 0"), "TXT must be refused: \(out)")
        #expect(out.contains("dns unlisted.test 1 3 0"), "unlisted names are NXDOMAIN: \(out)")
        // No proxy settings, other protocols, other address families.
        #expect(Self.line(out, "py-iplit").hasPrefix("HTTP/1.1 403"), "\(out)")
        #expect(Self.line(out, "py-opaque") == "closed" || Self.line(out, "py-opaque").hasPrefix("error"), "\(out)")
        for label in ["proxy-decimal", "proxy-hex", "proxy-octal"] {
            #expect(Self.line(out, label).hasPrefix("HTTP/1.1 403"), "\(label): \(out)")
        }
        #expect(Self.line(out, "udp") == "error TimeoutError" || Self.line(out, "udp") == "error timeout", "\(out)")
        #expect(Self.line(out, "icmp").hasPrefix("error"))
        #expect(Self.line(out, "raw").hasPrefix("error"))
        #expect(Self.line(out, "ipv6").hasPrefix("error"))
        #expect(Self.line(out, "metadata-direct").hasPrefix("HTTP/1.1 403") || Self.line(out, "metadata-direct") == "closed", "\(out)")

        // Every case is on record.
        let log = try networkLog(h, "net")
        #expect(hasEntry(log, decision: "allow", host: "allowed.test", method: "GET"))
        #expect(hasEntry(log, decision: "deny", rule: "not-listed", host: "unlisted.test"))
        #expect(hasEntry(log, decision: "deny", rule: "ip-literal"))
        #expect(hasEntry(log, decision: "deny", rule: "address", host: "internal.test"))
        #expect(hasEntry(log, decision: "deny", rule: "address", host: "metadata.test"))
        #expect(hasEntry(log, decision: "deny", method: "dns"))
        #expect(hasEntry(log, decision: "deny", rule: "dns-type"))
        #expect(hasEntry(log, decision: "deny", method: "udp"))
        #expect(log.allSatisfy { $0["sandbox"] as? String == "net" && $0["time"] is String && $0["reason"] is String })
        // And the run's summary says so.
        #expect(r.stderr.contains("network: "), "\(r.stderr)")
        #expect(r.stderr.contains("refused"))
    }

    @Test(.enabled(if: LoopbackServer.tlsAvailable, "openssl is not installed"))
    func httpsPassesForAllowedNamesAndSNIMustMatch() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let server = try await LoopbackServer.start(tlsDirectory: h.workspace)
        defer { server.stop() }
        let port = server.port
        try h.write("profile.yaml", Self.profile(port: port), in: h.root)
        let url = "https://allowed.test:\(port)/tls"
        let script = """
            echo "tls-proxy $(curl -sS -m 5 --cacert /workspace/cert.pem \(url))"
            echo "tls-direct $(curl -sS -m 5 --noproxy '*' --cacert /workspace/cert.pem \(url))"
            echo "tls-py $(python3 -c "
            import ssl, socket
            ctx = ssl.create_default_context(cafile='/workspace/cert.pem')
            s = ctx.wrap_socket(socket.create_connection(('allowed.test', \(port)), timeout=5), server_hostname='allowed.test')
            s.sendall(b'GET / HTTP/1.1\\r\\nHost: allowed.test\\r\\nConnection: close\\r\\n\\r\\n')
            print(s.recv(4096).decode().splitlines()[0])
            " 2>&1 | tail -n1)"
            echo "sni-direct $(curl -sS -m 5 -k --noproxy '*' --connect-to unlisted.test:\(port):allowed.test:\(port) https://unlisted.test:\(port)/ 2>&1 | head -c 80)"
            echo "sni-connect $(curl -sS -m 5 -k --connect-to unlisted.test:\(port):allowed.test:\(port) https://unlisted.test:\(port)/ 2>&1 | head -c 80)"
            """
        let r = try await h.cordon(["run", "--name", "tls", "--workspace", h.workspace, "--profile", h.root + "/profile.yaml", "--", "/bin/sh", "-c", script])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Self.line(r.stdout, "tls-proxy") == "hello allowed.test:\(port)", "\(r.stdout)")
        #expect(Self.line(r.stdout, "tls-direct") == "hello allowed.test:\(port)", "\(r.stdout)")
        #expect(Self.line(r.stdout, "tls-py") == "HTTP/1.1 200 OK", "\(r.stdout)")
        #expect(!Self.line(r.stdout, "sni-direct").contains("hello"), "\(r.stdout)")
        #expect(!Self.line(r.stdout, "sni-connect").contains("hello"), "\(r.stdout)")
        let log = try networkLog(h, "tls")
        #expect(hasEntry(log, decision: "allow", host: "allowed.test", method: "tls"))
        #expect(hasEntry(log, decision: "allow", host: "allowed.test", method: "CONNECT"))
        #expect(log.contains { $0["decision"] as? String == "deny" && ($0["rule"] as? String ?? "").contains("mismatch") }, "\(log)")
    }

    @Test func gitClonesThroughTheProxyAndWithoutIt() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let served = h.root + "/served"
        let source = h.root + "/src"
        for step in [
            ["/usr/bin/git", "init", "-q", source],
            ["/bin/sh", "-c", "echo content > \(source)/README && cd \(source) && git add README && git -c user.name=t -c user.email=t@t commit -qm init"],
            ["/usr/bin/git", "clone", "-q", "--bare", source, served + "/repo.git"],
            ["/usr/bin/git", "-C", served + "/repo.git", "update-server-info"],
        ] {
            let made = try await SandboxHarness.run(step, environment: ["PATH": "/usr/bin:/bin", "HOME": h.home])
            try #require(made.status == 0, "\(step): \(made.stderr)")
        }
        let server = try await LoopbackServer.start(directory: served)
        defer { server.stop() }
        try h.write("profile.yaml", Self.profile(port: server.port), in: h.root)
        let url = "http://allowed.test:\(server.port)/files/repo.git"
        let script = """
            cd /tmp && git clone -q \(url) viaproxy && cat viaproxy/README
            git -c http.proxy= clone -q \(url) direct 2>&1 && cat direct/README
            git clone -q http://unlisted.test/repo.git refused 2>/dev/null; echo "refused $?"
            """
        let r = try await h.cordon(["run", "--name", "git", "--workspace", h.workspace, "--profile", h.root + "/profile.yaml", "--", "/bin/sh", "-c", script])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "content\ncontent\nrefused 128\n", "\(r.stdout)\n\(r.stderr)")
    }

    @Test func networkNoneHasOnlyLoopbackAndNoResolver() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("profile.yaml", "name: offline\nnetwork: none\n", in: h.root)
        let r = try await h.cordon([
            "run", "--name", "off", "--workspace", h.workspace, "--profile", h.root + "/profile.yaml", "--", "/bin/sh", "-c",
            "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '; env | grep -ci proxy; getent hosts example.com; echo $?; curl -sS -m 3 http://192.0.2.1/ 2>&1 | head -c 40",
        ])
        #expect(r.stdout.hasPrefix("lo\n0\n2\ncurl: (7)"), "\(r.stdout)\n\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: h.state + "/cordon/sandboxes/off/network.jsonl"))
    }

    @Test func networkHostIsAnExplicitLoudOptOut() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let server = try await LoopbackServer.start()
        defer { server.stop() }
        try h.write("profile.yaml", "name: hostnet\nnetwork: host\n", in: h.root)
        let r = try await h.cordon([
            "run", "--name", "hn", "--workspace", h.workspace, "--profile", h.root + "/profile.yaml", "--", "/bin/sh", "-c",
            "curl -sS -m 5 http://127.0.0.1:\(server.port)/x",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "hello 127.0.0.1:\(server.port)\n")
        #expect(r.stderr.contains("WARNING: network: host"))
    }

    /// What init's rtnetlink calls leave in the sandbox: the veth pair, the default route via the
    /// peer, and IPv6 off.
    @Test func theSandboxHasTheCaptureLinkAndItsRoute() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let r = try await h.sandbox(
            """
            tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\\n' ' '; echo
            tail -n +2 /proc/net/route | cut -f1-3 | tr '\\t' ' '
            cat /proc/sys/net/ipv6/conf/all/disable_ipv6
            """)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "cordon0 cordon1 lo ", "\(r.stdout)")
        #expect(lines.contains("cordon0 00000000 0200C80A"), "default route via 10.200.0.2: \(r.stdout)")
        #expect(lines.last == "1", "\(r.stdout)")
        #expect(!r.stderr.contains("no network"), "\(r.stderr)")
    }

    /// A captured connection's MSS comes from the route it was looked up on (the capture link's),
    /// though its packets travel over `lo`: with the link's MTU at 65535 the sandbox and the relay
    /// exchange loopback-sized segments, as a connection to the proxy port does (at 1500: 1460).
    @Test func capturedConnectionsGetLoopbackSizedSegments() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let probe =
            "import socket\nfor target in [('192.0.2.1', 80), ('127.0.0.1', 3128)]:\n    s = socket.create_connection(target, timeout=10)\n    print(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG))\n    s.close()"
        let r = try await h.cordon(["run", "--name", "mss", "--", "/usr/bin/python3", "-c", probe])
        #expect(r.status == 0, "\(r.stderr)")
        let sizes = r.stdout.split(separator: "\n").compactMap { Int($0) }
        #expect(sizes.count == 2, "\(r.stdout)")
        #expect(sizes.allSatisfy { $0 > 32_000 }, "MSS captured / to the proxy: \(sizes)")
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/nft"), "nftables is not installed"))
    func theCaptureRulesetIsValidNftables() async throws {
        // `nft -c` checks the ruleset in a throwaway user+net namespace: nothing is installed.
        let installer = CaptureInstaller(capture: .standard)
        let r = try await SandboxHarness.run(["/usr/bin/unshare", "-Urn", "/usr/sbin/nft", "-c", "-f", "-"], environment: nil, stdin: installer.ruleset)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(installer.ruleset.contains("redirect to :15001"))
        #expect(installer.ruleset.contains("policy drop"))
    }
}

/// The approval flow end to end: a held connection shows in `cordon approvals`, `cordon deny`
/// refuses it, `cordon allow --always` releases the next one and lands in the profile's
/// approval file, which `cordon config compile` then shows.
@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"), .timeLimit(.minutes(5)))
struct ApprovalFlowTests {
    /// Runs cordon on a pty (as a user at a terminal) and answers its prompts by typing.
    static let ptyDriver = #"""
        import os, pty, select, sys, time
        answers = dict(a.split('=', 1) for a in sys.argv[1].split(','))
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(sys.argv[2], sys.argv[2:])
        out, typed, deadline = b'', set(), time.time() + 120
        while time.time() < deadline:
            r, _, _ = select.select([fd], [], [], 0.2)
            if fd in r:
                try: chunk = os.read(fd, 4096)
                except OSError: break
                if not chunk: break
                out += chunk
            for host, key in answers.items():
                if host not in typed and ('wants to reach ' + host).encode() in out:
                    os.write(fd, key.encode()); typed.add(host)
        _, status = os.waitpid(pid, 0)
        sys.stdout.write(out.decode(errors='replace'))
        sys.exit(os.waitstatus_to_exitcode(status))
        """#

    @Test func theTerminalThatRanCordonAnswersHeldConnections() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let server = try await LoopbackServer.start()
        defer { server.stop() }
        let port = server.port
        let profile = """
            name: prompting
            egress:
              prompt: true
              allow_private: ["127.0.0.0/8"]
              resolve: {once.test: 127.0.0.1, nope.test: 127.0.0.1}
            """
        try h.write("profile.yaml", profile, in: h.root)
        let script = """
            echo "once=$(curl -sS -m 60 -o /dev/null -w '%{http_code}' http://once.test:\(port)/)"
            echo "nope=$(curl -sS -m 60 -o /dev/null -w '%{http_code}' http://nope.test:\(port)/)"
            echo "again=$(curl -sS -m 60 -o /dev/null -w '%{http_code}' http://once.test:\(port)/)"
            """
        let argv = [
            SandboxHarness.cordon, "run", "--name", "tty", "--workspace", h.workspace, "--profile", h.root + "/profile.yaml", "--", "/bin/sh", "-c", script,
        ]
        let r = try await SandboxHarness.run(
            ["/usr/bin/python3", "-c", Self.ptyDriver, "once.test:\(port)=o,nope.test:\(port)=d"] + argv, environment: h.environment(), directory: h.workspace)
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("tty wants to reach once.test:\(port) — allow [o]nce, [a]lways, or [d]eny?"), "\(r.stdout)")
        #expect(r.stdout.contains("allowed for this run"))
        #expect(r.stdout.contains("once=200"), "\(r.stdout)")
        #expect(r.stdout.contains("denied"))
        #expect(r.stdout.contains("nope=403"), "\(r.stdout)")
        // "once" lasts for the sandbox's life: no second question.
        #expect(r.stdout.contains("again=200"), "\(r.stdout)")
        #expect(r.stdout.components(separatedBy: "wants to reach once.test").count == 2, "\(r.stdout)")
        // Nothing was saved for the profile.
        #expect(!FileManager.default.fileExists(atPath: h.root + "/config/cordon/approvals/prompting.list"))
    }

    @Test func heldConnectionsAreAnsweredFromAnotherTerminal() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let server = try await LoopbackServer.start()
        defer { server.stop() }
        let port = server.port
        let profile = """
            name: asking
            egress:
              prompt: true
              allow_private: ["127.0.0.0/8"]
              resolve: {refused.test: 127.0.0.1, approved.test: 127.0.0.1, sub.approved.test: 127.0.0.1}
            """
        try h.write("profile.yaml", profile, in: h.root)
        let script = """
            echo "first $(curl -sS -m 60 -o /dev/null -w '%{http_code}' http://refused.test:\(port)/)"
            echo "second $(curl -sS -m 60 http://approved.test:\(port)/)"
            echo "sub $(curl -sS -m 60 -o /dev/null -w '%{http_code}' http://sub.approved.test:\(port)/)"
            """
        async let run = h.cordon(["run", "--name", "ask", "--workspace", h.workspace, "--profile", h.root + "/profile.yaml", "--", "/bin/sh", "-c", script])
        func waitFor(_ host: String) async throws -> String {
            for _ in 0..<200 {
                let listed = try await h.cordon(["approvals", "ask"])
                if listed.stdout.contains(host) { return listed.stdout }
                try await Task.sleep(for: .milliseconds(100))
            }
            return ""
        }
        #expect(try await waitFor("refused.test:\(port)").contains("waiting since"))
        let denied = try await h.cordon(["deny", "ask", "refused.test"])
        #expect(denied.status == 0, "\(denied.stderr)")
        #expect(denied.stdout.contains("1 held connection released"))
        _ = try await waitFor("approved.test:\(port)")
        let allowed = try await h.cordon(["allow", "ask", "approved.test", "--always"])
        #expect(allowed.status == 0, "\(allowed.stderr)")
        // sub.approved.test is a different name: it is held again, and denied here.
        _ = try await waitFor("sub.approved.test:\(port)")
        _ = try await h.cordon(["deny", "ask", "sub.approved.test"])
        let r = try await run
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "first 403\nsecond hello approved.test:\(port)\nsub 403\n", "\(r.stdout)\n\(r.stderr)")
        #expect(r.stderr.contains("3 approvals asked"), "\(r.stderr)")
        // "always" was saved for the profile and is part of it from now on.
        let saved = try String(contentsOfFile: h.root + "/config/cordon/approvals/asking.list", encoding: .utf8)
        #expect(saved.contains("approved.test:\(port)"))
        #expect(!saved.contains("sub.approved.test"))
        let compiled = try await h.cordon(["config", "compile", h.root + "/profile.yaml", "--json"])
        #expect(compiled.stdout.contains("approved.test:\(port)"), "\(compiled.stdout)")
        // Nothing is running any more: once-approvals are refused, --always still records.
        let late = try await h.cordon(["allow", "ask", "later.test"])
        #expect(late.status == 2)
        #expect(late.stderr.contains("not running"))
        #expect(try await h.cordon(["allow", "ask", "later.test", "--always"]).status == 0)
        #expect(try String(contentsOfFile: h.root + "/config/cordon/approvals/asking.list", encoding: .utf8).contains("later.test"))
    }
}

@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"), .timeLimit(.minutes(5)))
struct BlocklistRunTests {
    @Test func blockedNamesAreRefusedEvenWhenAllowed() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let server = try await LoopbackServer.start()
        defer { server.stop() }
        let port = server.port
        try h.write("hosts.txt", "# a hosts-format list\n0.0.0.0 ads.test\n127.0.0.1 tracker.test other.test\n", in: h.root)
        let built = try await h.cordon(["blocklist", "build", h.root + "/hosts.txt", "--output", h.root + "/block.cbl"])
        #expect(built.status == 0, "\(built.stderr)")
        #expect(built.stdout.contains("3 domains"))
        #expect(try await h.cordon(["blocklist", "query", "x.ads.test", "--list", h.root + "/block.cbl"]).stdout.contains("blocked by ads.test"))
        #expect(try await h.cordon(["blocklist", "query", "fine.test", "--list", h.root + "/block.cbl"]).status == 1)
        let profile = """
            name: blocking
            egress:
              domains: [".ads.test:\(port)", "fine.test:\(port)"]
              allow_private: ["127.0.0.0/8"]
              resolve: {ads.test: 127.0.0.1, cdn.ads.test: 127.0.0.1, fine.test: 127.0.0.1}
              blocklists: ["\(h.root)/block.cbl"]
            """
        try h.write("profile.yaml", profile, in: h.root)
        let script = """
            echo "dns $(getent hosts cdn.ads.test >/dev/null; echo $?)"
            echo "proxy $(curl -sS -m 5 http://cdn.ads.test:\(port)/)"
            echo "fine $(curl -sS -m 5 --noproxy '*' http://fine.test:\(port)/)"
            """
        let r = try await h.cordon(["run", "--name", "bl", "--workspace", h.workspace, "--profile", h.root + "/profile.yaml", "--", "/bin/sh", "-c", script])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("dns 2\n"), "\(r.stdout)")
        #expect(r.stdout.contains("rule blocklist") || r.stdout.contains("blocklist"), "\(r.stdout)")
        #expect(r.stdout.contains("fine hello fine.test:\(port)"), "\(r.stdout)")
    }
}

@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"), .timeLimit(.minutes(5)))
struct StreamingTests {
    /// 256 MiB through the forward proxy and through the transparent path: the supervisor (which
    /// holds the proxy) must stay small, so bodies are streamed, never buffered.
    @Test func largeDownloadsStreamInConstantMemory() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let server = try await LoopbackServer.start()
        defer { server.stop() }
        let port = server.port
        try h.write("profile.yaml", NetworkContainmentTests.profile(port: port), in: h.root)
        let script = """
            curl -sS -m 120 http://allowed.test:\(port)/big?mb=128 | wc -c
            curl -sS -m 120 --noproxy '*' http://allowed.test:\(port)/big?mb=128 | wc -c
            """
        let r = try await h.cordon(
            ["run", "--name", "big", "--workspace", h.workspace, "--profile", h.root + "/profile.yaml", "--", "/bin/sh", "-c", script], timeout: 300)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "134217728\n134217728\n", "\(r.stdout)")
        let events = try String(contentsOfFile: h.state + "/cordon/sandboxes/big/events.jsonl", encoding: .utf8)
        let exit = try #require(events.split(separator: "\n").last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
        let peak = try #require(exit["supervisor_peak_rss_kb"] as? Int)
        #expect(peak > 0 && peak < 64 * 1024, "supervisor peak RSS \(peak) KiB while streaming 256 MiB")
    }
}

@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"), .timeLimit(.minutes(5)))
struct OpaqueProtocolTests {
    /// A server-speaks-first protocol (an ssh-like banner) on a port the profile lists for the
    /// name: the name comes from the DNS stub's record, the flow passes; the same server under a
    /// name listed without that port is refused.
    @Test func serverFirstProtocolsPassOnlyOnListedPorts() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let banner = #"""
            import socket, threading
            s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
            print(s.getsockname()[1], flush=True)
            def serve(c):
                c.sendall(b"SSH-2.0-cordon-test\r\n"); c.recv(100); c.close()
            while True:
                c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
            """#
        let process = try RunningProcess(["/usr/bin/python3", "-c", banner], discardStderr: true)
        defer { process.killInBackground() }
        let port = try await SandboxHarness.offPool { Int(try process.readLine()) ?? 0 }
        try #require(port > 0)
        try h.write(
            "profile.yaml",
            """
            name: opaque
            egress:
              domains: ["git.test:\(port)", "web.test"]
              allow_private: ["127.0.0.0/8"]
              resolve: {git.test: 127.0.0.1, web.test: 127.0.0.1}
            """, in: h.root)
        let client = """
            import socket, sys
            try:
                s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
                data = s.recv(100)
                print(sys.argv[1], data.decode().strip() if data else "closed")
            except Exception as e:
                print(sys.argv[1], "error", type(e).__name__)
            """
        try h.write("client.py", client)
        let r = try await h.cordon([
            "run", "--name", "op", "--workspace", h.workspace, "--profile", h.root + "/profile.yaml", "--", "/bin/sh", "-c",
            "python3 /workspace/client.py git.test \(port); python3 /workspace/client.py web.test \(port)",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("git.test SSH-2.0-cordon-test"), "\(r.stdout)")
        #expect(r.stdout.contains("web.test closed") || r.stdout.contains("web.test error"), "\(r.stdout)")
    }
}

@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"), .timeLimit(.minutes(5)))
struct CaptureTamperingTests {
    /// The agent cannot take the capture down: no capability over its network namespace, and the
    /// netfilter netlink family is refused by seccomp.
    @Test func theAgentCannotRemoveTheRulesOrTheRoute() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let script = """
            nft flush ruleset 2>/dev/null; echo "flush $?"
            ip route del default 2>/dev/null; echo "route-del $?"
            ip link set cordon0 down 2>/dev/null; echo "link-down $?"
            ip route add 192.0.2.0/24 dev cordon1 2>/dev/null; echo "route-add $?"
            echo 0 > /proc/sys/net/ipv6/conf/all/disable_ipv6 2>/dev/null; echo "sysctl $?"
            ip route | grep -c default
            curl -sS -m 5 --noproxy '*' -o /dev/null -w '%{http_code}' http://192.0.2.1/; echo
            """
        let r = try await h.sandbox(script)
        #expect(r.status == 0, "\(r.stderr)")
        for step in ["flush", "route-del", "link-down", "route-add", "sysctl"] {
            #expect(r.stdout.contains("\(step) ") && !r.stdout.contains("\(step) 0\n"), "\(step) must fail: \(r.stdout)")
        }
        // Still captured: the direct request reached cordon's relay and was refused there.
        #expect(r.stdout.hasSuffix("1\n403\n"), "\(r.stdout)")
    }
}

/// The proxy starts when the sandbox first uses the network (or the control socket gets a
/// connection): a run that never does never starts NIO's threads, and nothing is lost by waiting.
@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"), .timeLimit(.minutes(5)))
struct LazyNetworkStartTests {
    /// Thread names of the `cordon run` supervisor whose command line names sandbox `name`.
    static func supervisorThreads(name: String) -> [String]? {
        guard let pids = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        for pid in pids where Int(pid) != nil {
            guard let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
            let arguments = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard arguments.count > 3, arguments[0].hasSuffix("/cordon"), arguments[1] == "run",
                let index = arguments.firstIndex(of: "--name"), arguments.indices.contains(index + 1), arguments[index + 1] == name
            else { continue }
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
            return tasks.compactMap { try? String(contentsOfFile: "/proc/\(pid)/task/\($0)/comm", encoding: .utf8) }
                .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        }
        return nil
    }

    @Test func anIdleSandboxStartsNoProxyUntilTheControlSocketOrTheSandboxNeedsIt() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let marker = h.workspace + "/started"
        // The command waits on a FIFO until the test has looked, not on a sleep a loaded machine outruns.
        let signals = h.root + "/signals"
        try FileManager.default.createDirectory(atPath: signals, withIntermediateDirectories: true)
        #expect(mkfifo(signals + "/go", 0o666) == 0)
        try h.write("profile.yaml", "name: idle\nmounts:\n  - {host: \(signals), sandbox: /signals}\n", in: h.root)
        async let run = h.cordon([
            "run", "--profile", h.root + "/profile.yaml", "--workspace", h.workspace, "--name", "idle", "--", "/bin/sh", "-c",
            "touch /workspace/started; read a < /signals/go; getent hosts example.com; echo dns=$?",
        ])
        // However the test ends, the command is let go: a failed expectation below would otherwise
        // leave `run` waiting on the FIFO until its time limit. (Declared after `run`, this runs
        // before `run` is awaited at the scope's end.)
        defer {
            let fd = open(signals + "/go", O_WRONLY | O_NONBLOCK)
            if fd >= 0 {
                _ = write(fd, "\n", 1)
                close(fd)
            }
        }
        var threads: [String]?
        // Up to 30 s: a loaded machine (CI, parallel builds) can take seconds to start a sandbox.
        for _ in 0..<600 {
            // The command runs in the overlay: the marker shows in the upper, not in the workspace.
            if FileManager.default.fileExists(atPath: h.state + "/cordon/sandboxes/idle/upper/started") {
                threads = Self.supervisorThreads(name: "idle")
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(!FileManager.default.fileExists(atPath: marker))
        let idle = try #require(threads, "the sandbox did not start")
        #expect(!idle.contains { $0.hasPrefix("NIO-") }, "NIO started before any use: \(idle)")
        // The control socket answers though: its connection starts the proxy.
        let listed = try await h.cordon(["approvals", "idle"])
        #expect(listed.status == 0, "\(listed.stderr)")
        let serving = try #require(Self.supervisorThreads(name: "idle"))
        #expect(serving.contains { $0.hasPrefix("NIO-") }, "\(serving)")
        try await SandboxHarness.signal(signals + "/go")
        let r = try await run
        #expect(r.status == 0, "\(r.stderr)")
        // The sandbox's first DNS query was answered (refused: not allowed) once the proxy served.
        #expect(r.stdout.contains("dns=2"), "\(r.stdout)")
    }
}
