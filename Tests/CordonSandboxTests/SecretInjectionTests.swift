import CordonTestSupport
import Foundation
import Glibc
import Testing

/// Zero-token secrets end to end: a real sandbox whose profile binds keystore entries to llm.test,
/// a real HTTPS server standing in for an LLM API on the host's loopback (its own CA, given to
/// cordon with `egress.upstream_ca`). The server receives the real value; the sandbox only ever
/// had the placeholder; a placeholder sent where it is not bound is refused and never arrives.
@Suite(
    .enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"),
    .enabled(if: LoopbackServer.tlsAvailable, "openssl is not installed"), .timeLimit(.minutes(5)))
struct SecretInjectionTests {
    static let value = "sk-live-" + "Hq4Zt8Wm2Xc6Vb9Np3Rd"
    static let queryValue = "AIza" + "Sy-Q7hJ2mK9pL4nB6vC1xZ8wE5rT3yU0iO"

    /// Appends what each request carried (path and the credential headers) as a JSON line to `log`,
    /// so the test sees what really arrived; answers `ok` (a real API does not echo its key).
    static let echoServer = #"""
        import http.server, socketserver, ssl, sys, json, threading
        log = open(sys.argv[3], "a")
        release = threading.Event()
        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *a): pass
            def answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                body = raw.decode(errors="replace")
                if len(raw) < n:  # cut off on its way: a server acts on no incomplete request
                    log.write(json.dumps({"path": self.path, "incomplete": True, "others": body.count("cordon-ph-")}) + "\n"); log.flush()
                    return
                if len(body) > 300: body = body[:100] + "...(%d bytes)" % len(raw)
                seen = {"path": self.path, "host": self.headers.get("Host"), "authorization": self.headers.get("Authorization"),
                        "x-api-key": self.headers.get("x-api-key"), "x-debug": self.headers.get("x-debug"), "body": body,
                        "peer": self.client_address[1], "amz-date": self.headers.get("x-amz-date"),
                        "amz-token": self.headers.get("x-amz-security-token")}
                line = json.dumps(seen)
                log.write(line + "\n"); log.flush()
                out = b'{"ok": true}\n'
                if self.path == "/release":
                    release.set()
                if self.path.startswith("/v1/chat/completions"):
                    out = b'{"id":"c1","model":"m1","choices":[],"usage":{"prompt_tokens":30,"completion_tokens":20,"total_tokens":50}}'
                if self.path == "/v1/stream/chat/completions":
                    # Server-sent events: the first goes at once, the rest only once /release was asked
                    # for (by the client, after it read the first: a proxy that buffers deadlocks here).
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    def chunk(b): self.wfile.write(b"%x\r\n" % len(b) + b + b"\r\n"); self.wfile.flush()
                    chunk(b'data: {"model":"m1","choices":[{"delta":{"content":"hi"}}]}\n\n')
                    release.wait(20)
                    chunk(b'data: {"model":"m1","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}\n\n')
                    chunk(b"data: [DONE]\n\n")
                    self.wfile.write(b"0\r\n\r\n"); self.wfile.flush()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                if self.path.startswith("/close/"):
                    # An origin that ends every connection after one response (TLS torn down
                    # without close_notify, as Python's server does).
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(out)
            do_GET = answer
            do_POST = answer
        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
        s = S(("127.0.0.1", 0), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[1], sys.argv[2])
        s.socket = ctx.wrap_socket(s.socket, server_side=True)
        print(s.server_address[1], flush=True)
        s.serve_forever()
        """#

    struct Server {
        let port: Int
        let process: RunningProcess
        let log: String
        func stop() { process.killInBackground() }
        /// Every request the server received, as it received it.
        func received() -> [[String: Any]] {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }
    }

    /// The stand-in API with a certificate for llm.test from its own CA (`ca.pem` in `directory`).
    static func startServer(in directory: String) async throws -> Server {
        try await SandboxHarness.offPool {
            for step in [
                [
                    "/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=test llm CA", "-keyout", directory + "/ca-key.pem", "-out", directory + "/ca.pem",
                ],
                [
                    "/usr/bin/openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=llm.test",
                    "-keyout", directory + "/key.pem", "-out", directory + "/req.pem",
                ],
                [
                    "/bin/sh", "-c",
                    "printf 'subjectAltName=DNS:llm.test,DNS:other.test\\n' > \(directory)/ext && /usr/bin/openssl x509 -req -in \(directory)/req.pem -CA \(directory)/ca.pem -CAkey \(directory)/ca-key.pem -CAcreateserial -days 2 -extfile \(directory)/ext -out \(directory)/cert.pem",
                ],
            ] {
                let made = try SandboxHarness.runBlocking(step, environment: ["PATH": "/usr/bin:/bin"])
                guard made.status == 0 else { throw TestSupportError("openssl: \(made.stderr)") }
            }
            let log = directory + "/received.jsonl"
            let process = try RunningProcess(
                ["/usr/bin/python3", "-c", echoServer, directory + "/cert.pem", directory + "/key.pem", log], discardStderr: true)
            guard let port = Int(try process.readLine()) else {
                process.signal(SIGKILL, group: true)
                throw TestSupportError("the echo server printed no port")
            }
            return Server(port: port, process: process, log: log)
        }
    }

    /// The stand-in server in a fresh directory under the harness's root, and that directory.
    static func serve(_ h: SandboxHarness) async throws -> (Server, String) {
        let tls = h.root + "/tls"
        try FileManager.default.createDirectory(atPath: tls, withIntermediateDirectories: true)
        return (try await startServer(in: tls), tls)
    }

    /// Stores each (name, value) in the harness's keystore.
    static func store(_ h: SandboxHarness, _ entries: [(String, String)]) async throws {
        for (name, value) in entries {
            let set = try await h.cordon(["secrets", "set", name, "--stdin"], stdin: value)
            try #require(set.status == 0, "\(set)")
        }
    }

    static func profile(port: Int, upstreamCA: String?) -> String {
        """
        name: inject
        network: proxy
        egress:
          domains: ["llm.test:\(port)", "other.test:\(port)"]
          allow_private: ["127.0.0.0/8"]
          resolve: {llm.test: 127.0.0.1, other.test: 127.0.0.1}
        \(upstreamCA.map { "  upstream_ca: [\($0)]" } ?? "")
        secrets:
          - name: LLMKEY
            env: LLM_API_KEY
            domains: [llm.test]
          - name: GKEY
            env: G_KEY
            domains: [llm.test]
            inject: "query:key"
          - name: OTHERKEY
            env: OTHER_KEY
            domains: [elsewhere.test]
        """
    }

    /// Requests made inside, one line each: `label status body`.
    static func client(port: Int, caKey: String = "/nonexistent") -> String {
        #"""
        import json, os, ssl, urllib.request, urllib.error
        key, gkey, other = os.environ["LLM_API_KEY"], os.environ["G_KEY"], os.environ["OTHER_KEY"]
        def call(label, url, headers, data=None):
            req = urllib.request.Request(url, headers=headers, data=data)
            try:
                with urllib.request.urlopen(req, timeout=10) as r: print(label, r.status, r.read().decode().strip())
            except urllib.error.HTTPError as e: print(label, e.code, e.read().decode(errors="replace").strip().replace("\n", " "))
            except Exception as e: print(label, "error", type(e).__name__, str(e)[:200].replace("\n", " "))
        base = "https://llm.test:PORT"
        call("bearer", base + "/v1/chat", {"Authorization": "Bearer " + key})
        call("apikey", base + "/v1/messages", {"x-api-key": key}, data=b'{"model":"m"}')
        call("query", base + "/v1beta/models?key=" + gkey + "&alt=json", {})
        call("by-name", base + "/v1/by-name", {"Authorization": "Bearer LLMKEY"})
        call("elsewhere-header", base + "/v1/chat", {"Authorization": "Bearer " + key, "x-debug": key})
        call("other-bearer-http", "http://other.test:PORT/steal", {"Authorization": "Bearer " + key})
        call("host-mismatch", base + "/v1/chat", {"Authorization": "Bearer " + key, "Host": "other.test:PORT"})
        # Three requests on one kept-alive connection through the proxy, as an SDK sends them.
        import http.client
        conn = http.client.HTTPSConnection("127.0.0.1", 3128, timeout=10, context=ssl.create_default_context())
        conn.set_tunnel("llm.test", PORT)
        statuses = []
        for i in range(3):
            conn.request("POST", "/ka/%d" % i, body=b"x" * (i * 1000), headers={"Authorization": "Bearer " + key})
            r = conn.getresponse(); r.read(); statuses.append(r.status)
        print("keepalive", *statuses)
        # Bodies: another secret's placeholder, astride the proxy's reads, never leaves; the
        # connection's own secret's placeholder in a body is harmless and passes as it is.
        call("body-other", base + "/v1/body-other", {"Authorization": "Bearer " + key}, data=b"a" * 65500 + other.encode() + b"z" * 70000)
        call("body-own", base + "/v1/body-own", {"Authorization": "Bearer " + key}, data=b'{"note":"' + key.encode() + b'"}')
        print("env-has-placeholder", key.startswith("cordon-ph-"))
        try: open("CAKEY").read(); print("ca-key readable")
        except Exception as e: print("ca-key", type(e).__name__)
        open("/workspace/env-dump", "wb").write(open("/proc/self/environ", "rb").read())
        """#.replacingOccurrences(of: "PORT", with: "\(port)").replacingOccurrences(of: "CAKEY", with: caKey)
    }

    /// The three secrets `profile` binds, stored, and that profile written to the harness's root.
    static func storeSecretsAndProfile(_ h: SandboxHarness, port: Int, tls: String) async throws {
        try await store(h, [("LLMKEY", value), ("GKEY", queryValue), ("OTHERKEY", "ot-" + value)])
        try h.write("profile.yaml", profile(port: port, upstreamCA: tls + "/ca.pem"), in: h.root)
    }

    static func line(_ output: String, _ label: String) -> String {
        output.split(separator: "\n").first { $0.hasPrefix(label + " ") }.map { String($0.dropFirst(label.count + 1)) } ?? "<missing>"
    }

    @Test func theServerGetsTheValueTheSandboxOnlyThePlaceholder() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let (server, tls) = try await Self.serve(h)
        defer { server.stop() }
        try await Self.storeSecretsAndProfile(h, port: server.port, tls: tls)
        try h.write("client.py", Self.client(port: server.port, caKey: h.state + "/cordon/ca/ca-key.pem"))
        let r = try await h.cordon([
            "run", "--name", "inj", "--workspace", h.workspace, "--profile", h.root + "/profile.yaml", "--", "/usr/bin/python3", "/workspace/client.py",
        ])
        #expect(r.status == 0, "\(r)")
        // What the sandbox saw: never the value.
        #expect(!r.stdout.contains(Self.value) && !r.stdout.contains(Self.queryValue), "\(r.stdout)")
        #expect(!r.stderr.contains(Self.value) && !r.stderr.contains(Self.queryValue))
        #expect(Self.line(r.stdout, "env-has-placeholder") == "True", "\(r.stdout)")
        // cordon's CA key exists on the host and is not reachable inside; no file the sandbox wrote,
        // and nothing in cordon's state, holds a value (the keystore holds them sealed).
        #expect(FileManager.default.fileExists(atPath: h.state + "/cordon/ca/ca-key.pem"))
        #expect(Self.line(r.stdout, "ca-key") == "FileNotFoundError", "\(r.stdout)")
        for needle in [Self.value, Self.queryValue] {
            let holders = (FileManager.default.enumerator(atPath: h.root)?.allObjects as? [String] ?? []).filter { relative in
                !relative.hasPrefix("tls/") && (FileManager.default.contents(atPath: h.root + "/" + relative)?.range(of: Data(needle.utf8)) != nil)
            }
            #expect(holders.isEmpty, "\(holders)")
        }

        let received = server.received()
        func arrived(_ path: String) -> [String: Any]? { received.first { ($0["path"] as? String)?.hasPrefix(path) == true } }
        // Bearer keeps its prefix; x-api-key is replaced whole; the query parameter bound with inject.
        #expect(arrived("/v1/chat")?["authorization"] as? String == "Bearer " + Self.value, "\(received)")
        #expect(arrived("/v1/messages")?["x-api-key"] as? String == Self.value, "\(received)")
        #expect(arrived("/v1/messages")?["body"] as? String == #"{"model":"m"}"#, "\(received)")
        #expect(arrived("/v1beta/models")?["path"] as? String == "/v1beta/models?key=" + Self.queryValue + "&alt=json", "\(received)")
        #expect(Self.line(r.stdout, "bearer").hasPrefix("200 "), "\(r.stdout)")

        // Refused, never forwarded: the placeholder where no injection puts it, the placeholder to
        // a domain it is not bound to, and a Host other than the connection's on a bound connection.
        #expect(Self.line(r.stdout, "elsewhere-header").hasPrefix("403"), "\(r.stdout)")
        #expect(Self.line(r.stdout, "other-bearer-http").hasPrefix("403"), "\(r.stdout)")
        #expect(Self.line(r.stdout, "host-mismatch").hasPrefix("403"), "\(r.stdout)")
        // A keystore entry's name in a header is text, never looked up: only placeholders are swapped.
        #expect(arrived("/v1/by-name")?["authorization"] as? String == "Bearer LLMKEY", "\(received)")
        #expect(received.filter { $0["incomplete"] == nil }.count == 8, "\(received)")
        #expect(Self.line(r.stdout, "body-other").hasPrefix("403"), "\(r.stdout)")
        // Cut off before the placeholder: the origin never had a complete request, nor the placeholder.
        #expect(arrived("/v1/body-other") == nil || arrived("/v1/body-other")?["incomplete"] as? Bool == true, "\(received)")
        #expect(arrived("/v1/body-other")?["others"] as? Int ?? 0 == 0, "\(received)")
        #expect(Self.line(r.stdout, "body-own").hasPrefix("200"), "\(r.stdout)")
        #expect((arrived("/v1/body-own")?["body"] as? String)?.contains("cordon-ph-") == true, "\(received)")
        // The kept-alive requests each got the value, and went upstream on one connection.
        #expect(Self.line(r.stdout, "keepalive") == "200 200 200", "\(r.stdout)")
        let kept = received.filter { ($0["path"] as? String)?.hasPrefix("/ka/") == true }
        #expect(kept.count == 3 && kept.allSatisfy { $0["authorization"] as? String == "Bearer " + Self.value }, "\(kept)")
        #expect(Set(kept.compactMap { $0["peer"] as? Int }).count == 1, "\(kept)")
        #expect(!received.contains { ($0["path"] as? String) == "/steal" || $0["x-debug"] is String })
        #expect(r.stderr.contains("cordon: ALERT"), "\(r.stderr)")
    }

    /// Without the server's CA the real server is not trusted: the request fails before any value is sent.
    @Test func anUntrustedServerNeverGetsTheValue() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let (server, _) = try await Self.serve(h)
        defer { server.stop() }
        try await Self.store(h, [("LLMKEY", Self.value), ("GKEY", Self.queryValue), ("OTHERKEY", "ot-" + Self.value)])
        try h.write("profile.yaml", Self.profile(port: server.port, upstreamCA: nil), in: h.root)
        try h.write("client.py", Self.client(port: server.port))
        let r = try await h.cordon([
            "run", "--name", "inj", "--workspace", h.workspace, "--profile", h.root + "/profile.yaml", "--", "/usr/bin/python3", "/workspace/client.py",
        ])
        #expect(!Self.line(r.stdout, "bearer").hasPrefix("200"), "\(r.stdout)")
        #expect(server.received().isEmpty, "\(server.received())")
        #expect(!r.stdout.contains(Self.value))
    }

    /// A passphrase keystore is unlocked at the start (here from a descriptor, as a script does);
    /// a wrong passphrase stops the sandbox before anything runs, and nothing is sent.
    @Test func aPassphraseKeystoreIsUnlockedAtTheStart() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let (server, tls) = try await Self.serve(h)
        defer { server.stop() }
        try h.write("right", "correct horse battery staple\n", in: h.root)
        try h.write("wrong", "correct horse battery stapler\n", in: h.root)
        try h.write("profile.yaml", Self.profile(port: server.port, upstreamCA: tls + "/ca.pem"), in: h.root)
        try h.write("client.py", Self.client(port: server.port))
        func shell(_ script: String, stdin: String? = nil) async throws -> ProcessResult {
            try await SandboxHarness.run(
                ["/bin/sh", "-c", script], environment: h.environment(extra: ["CORDON_PASSPHRASE_FD": "3"]), directory: h.root, stdin: stdin)
        }
        let cordon = SandboxHarness.cordon
        #expect(try await shell("\(cordon) secrets init --passphrase 3<right").status == 0)
        for (name, value) in [("LLMKEY", Self.value), ("GKEY", Self.queryValue), ("OTHERKEY", "ot-" + Self.value)] {
            let set = try await shell("\(cordon) secrets set \(name) --stdin 3<right", stdin: value)
            try #require(set.status == 0, "\(set)")
        }
        let run = "\(cordon) run --name pp --workspace \(h.workspace) --profile \(h.root)/profile.yaml -- /usr/bin/python3 /workspace/client.py"
        let wrong = try await shell(run + " 3<wrong")
        #expect(wrong.status == 125 && wrong.stderr.contains("wrong passphrase"), "\(wrong)")
        #expect(server.received().isEmpty)
        let right = try await shell(run + " 3<right")
        #expect(right.status == 0, "\(right)")
        #expect(Self.line(right.stdout, "bearer").hasPrefix("200"), "\(right.stdout)")
        #expect(server.received().first?["authorization"] as? String == "Bearer " + Self.value)
    }

    /// `egress.inspect` without any secret: TLS to other.test is terminated so that each request's
    /// Host is checked; fronting to llm.test inside it is refused and never sent.
    @Test func anInspectedDomainRefusesFrontingInsideTLS() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let (server, tls) = try await Self.serve(h)
        defer { server.stop() }
        let port = server.port
        try h.write(
            "profile.yaml",
            """
            name: inspect
            network: proxy
            egress:
              domains: ["llm.test:\(port)", "other.test:\(port)"]
              allow_private: ["127.0.0.0/8"]
              resolve: {llm.test: 127.0.0.1, other.test: 127.0.0.1}
              upstream_ca: [\(tls)/ca.pem]
              inspect: [other.test]
            """, in: h.root)
        let script = """
            curl -sS -o /dev/null -w 'plain %{http_code}\\n' https://other.test:\(port)/plain
            curl -sS -o /dev/null -w 'fronted %{http_code}\\n' -H 'Host: llm.test:\(port)' https://other.test:\(port)/fronted
            """
        let r = try await h.cordon([
            "run", "--name", "insp", "--workspace", h.workspace, "--profile", h.root + "/profile.yaml", "--", "/bin/sh", "-c", script,
        ])
        #expect(r.status == 0, "\(r)")
        #expect(Self.line(r.stdout, "plain") == "200", "\(r.stdout)")
        #expect(Self.line(r.stdout, "fronted") == "403", "\(r.stdout)")
        let paths = server.received().compactMap { $0["path"] as? String }
        #expect(paths == ["/plain"], "\(paths)")
    }

    /// AWS SigV4: botocore inside signs with the placeholder credentials; the server gets a request
    /// signed with the real ones, exactly as botocore signs it with them on the host.
    @Test(
        .enabled(
            if: (try? ProcessRunner.runBlocking(["/usr/bin/python3", "-c", "import botocore.auth"], timeout: .seconds(10)))?.status == 0,
            "botocore is not installed (python3-botocore)"))
    func aSigV4RequestIsSignedAgainWithTheRealCredentials() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let (server, tls) = try await Self.serve(h)
        defer { server.stop() }
        let port = server.port
        let realKey = "AKIA" + "IOSFODNN7REALKEY"
        let realSecret = "wJalrXUtnFEMI/" + "K7MDENG/bPxRfiCYREALSECRET"
        try await Self.store(h, [("AWSID", realKey), ("AWSSECRET", realSecret)])
        try h.write(
            "profile.yaml",
            """
            name: aws
            network: proxy
            egress:
              domains: ["llm.test:\(port)"]
              allow_private: ["127.0.0.0/8"]
              resolve: {llm.test: 127.0.0.1}
              upstream_ca: [\(tls)/ca.pem]
            secrets:
              - {name: AWSID, env: AWS_ACCESS_KEY_ID, domains: [llm.test], inject: sigv4}
              - {name: AWSSECRET, env: AWS_SECRET_ACCESS_KEY, domains: [llm.test], inject: sigv4}
            """, in: h.root)
        // Signs (service sts, us-east-1, a fixed instant) with the credentials it is given and
        // prints the headers; sends them when asked.
        let signer = #"""
            import datetime, json, os, sys, urllib.request
            from unittest import mock
            from botocore.auth import SigV4Auth
            from botocore.awsrequest import AWSRequest
            from botocore.credentials import Credentials
            url, key, secret, send = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "send"
            body = b"Action=GetCallerIdentity&Version=2011-06-15"
            request = AWSRequest(method="POST", url=url, headers={"Content-Type": "application/x-www-form-urlencoded"}, data=body)
            instant = datetime.datetime(2026, 12, 6, 21, 30, 5)
            with mock.patch("botocore.auth.datetime") as clock:
                clock.datetime.now.return_value = instant
                clock.datetime.utcnow.return_value = instant
                clock.timezone = datetime.timezone
                SigV4Auth(Credentials(key, secret), "sts", "us-east-1").add_auth(request)
            headers = dict(request.headers.items())
            if not send:
                print(headers["Authorization"]); sys.exit()
            r = urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers, method="POST"), timeout=10)
            print("sent", r.status)
            """#
        try h.write("sign.py", signer)
        let url = "https://llm.test:\(port)/"
        let r = try await h.cordon([
            "run", "--name", "aws", "--workspace", h.workspace, "--profile", h.root + "/profile.yaml", "--", "/bin/sh", "-c",
            "python3 /workspace/sign.py \(url) \"$AWS_ACCESS_KEY_ID\" \"$AWS_SECRET_ACCESS_KEY\" send",
        ])
        #expect(r.status == 0 && r.stdout.contains("sent 200"), "\(r)")
        let expected = try await SandboxHarness.run(
            ["/usr/bin/python3", h.workspace + "/sign.py", url, realKey, realSecret, "print"], environment: ["PATH": "/usr/bin:/bin"])
        let arrived = try #require(server.received().first)
        #expect(arrived["authorization"] as? String == expected.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "\(arrived) vs \(expected)")
        #expect((arrived["authorization"] as? String)?.contains("Credential=" + realKey + "/") == true, "\(arrived)")
        #expect(!r.stdout.contains(realSecret) && !r.stdout.contains(realKey))
    }

    /// Token usage read from the responses of a bound LLM domain (plain JSON and a stream that
    /// arrives event by event), listed by `cordon usage`, and the budget: warned at 80%, new
    /// requests refused with 429 and a JSON reason past 95%.
    @Test func usageIsMeteredAndTheBudgetBlocks() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let (server, tls) = try await Self.serve(h)
        defer { server.stop() }
        let port = server.port
        try await Self.store(h, [("LLMKEY", Self.value)])
        try h.write(
            "profile.yaml",
            """
            name: metered
            network: proxy
            egress:
              domains: ["llm.test:\(port)"]
              allow_private: ["127.0.0.0/8"]
              resolve: {llm.test: 127.0.0.1}
              upstream_ca: [\(tls)/ca.pem]
            secrets:
              - {name: LLMKEY, env: LLM_API_KEY, domains: [llm.test]}
            usage:
              providers: [{name: testllm, domain: llm.test, path: /v1/, format: openai}]
              budgets: [{tokens: 110, per: day}]
            """, in: h.root)
        let client = #"""
            import os, urllib.request, urllib.error, http.client, ssl
            key = os.environ["LLM_API_KEY"]
            base = "https://llm.test:PORT"
            def call(label, path):
                req = urllib.request.Request(base + path, data=b'{"model":"m1"}', headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(req, timeout=10) as r: print(label, r.status)
                except urllib.error.HTTPError as e: print(label, e.code, e.read().decode().strip())
            # The stream: the first event is read before the server sends the rest.
            conn = http.client.HTTPSConnection("127.0.0.1", 3128, timeout=20, context=ssl.create_default_context())
            conn.set_tunnel("llm.test", PORT)
            conn.request("POST", "/v1/stream/chat/completions", body=b"{}", headers={"Authorization": "Bearer " + key})
            r = conn.getresponse()
            first = r.readline()
            call("release", "/release")
            rest = r.read()
            print("stream", b"hi" in first, b"[DONE]" in rest)
            call("one", "/v1/chat/completions")
            call("two", "/v1/chat/completions")
            call("three", "/v1/chat/completions")
            """#.replacingOccurrences(of: "PORT", with: "\(port)")
        try h.write("client.py", client)
        let r = try await h.cordon([
            "run", "--name", "met", "--workspace", h.workspace, "--profile", h.root + "/profile.yaml", "--", "/usr/bin/python3", "/workspace/client.py",
        ])
        #expect(r.status == 0, "\(r)")
        #expect(Self.line(r.stdout, "stream") == "True True", "\(r.stdout)")
        // 10 (the stream) + 50 + 50 = 110 of 110: past 80% after the second (warned), and the third
        // is refused before it goes (the budget is checked before each request).
        #expect(Self.line(r.stdout, "one") == "200" && Self.line(r.stdout, "two") == "200", "\(r.stdout)")
        #expect(Self.line(r.stdout, "three").hasPrefix("429") && Self.line(r.stdout, "three").contains("cordon_budget_exceeded"), "\(r.stdout)")
        #expect(r.stderr.contains("usage: the daily budget"), "\(r.stderr)")
        #expect(server.received().filter { ($0["path"] as? String) == "/v1/chat/completions" }.count == 2)
        let usage = try await h.cordon(["usage", "met", "--json"])
        #expect(usage.status == 0, "\(usage)")
        #expect(usage.stdout.contains("110"), "\(usage.stdout)")
        // Another sandbox of the same profile starts at 110: its requests are refused at once.
        let again = try await h.cordon([
            "run", "--name", "met2", "--workspace", h.workspace, "--profile", h.root + "/profile.yaml", "--", "/usr/bin/python3", "-c",
            "import os, urllib.request, urllib.error\nfor i in range(2):\n  req = urllib.request.Request('https://llm.test:\(port)/v1/chat/completions', data=b'{}', headers={'Authorization': 'Bearer ' + os.environ['LLM_API_KEY']})\n  try: print('req', urllib.request.urlopen(req, timeout=10).status)\n  except urllib.error.HTTPError as e: print('req', e.code, e.read().decode().strip())",
        ])
        let lines = again.stdout.split(separator: "\n").filter { $0.hasPrefix("req ") }
        #expect(lines.count == 2 && lines.allSatisfy { $0.hasPrefix("req 429") && $0.contains("cordon_budget_exceeded") }, "\(again)")
    }

    /// An origin that closes after each response: the sandbox's kept-alive connection still gets
    /// every answer (a fresh upstream per request), and the origin's unclean TLS close never cuts it.
    @Test func anOriginThatClosesEachTimeStillServesAKeptAliveClient() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let (server, tls) = try await Self.serve(h)
        defer { server.stop() }
        try await Self.storeSecretsAndProfile(h, port: server.port, tls: tls)
        let client = #"""
            import http.client, os, ssl
            conn = http.client.HTTPSConnection("127.0.0.1", 3128, timeout=10, context=ssl.create_default_context())
            conn.set_tunnel("llm.test", PORT)
            statuses = []
            for i in range(8):
                try:
                    conn.request("GET", "/close/%d" % i, headers={"Authorization": "Bearer " + os.environ["LLM_API_KEY"]})
                    r = conn.getresponse(); r.read(); statuses.append(str(r.status))
                except Exception as e:
                    statuses.append(type(e).__name__)
            print("statuses", " ".join(statuses))
            """#.replacingOccurrences(of: "PORT", with: "\(server.port)")
        try h.write("close.py", client)
        let r = try await h.cordon([
            "run", "--name", "cl", "--workspace", h.workspace, "--profile", h.root + "/profile.yaml", "--", "/usr/bin/python3", "/workspace/close.py",
        ])
        #expect(Self.line(r.stdout, "statuses") == Array(repeating: "200", count: 8).joined(separator: " "), "\(r)")
        #expect(server.received().count == 8)
    }

    /// The outbound leak check: a body to a bound LLM domain that carries a cloud key is logged as
    /// an alert (default `alert`: it goes), and under `egress.dlp: block` refused before it leaves.
    @Test func aSecretInAnInterceptedBodyIsAlertedOrBlocked() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let (server, tls) = try await Self.serve(h)
        defer { server.stop() }
        let port = server.port
        try await Self.store(h, [("LLMKEY", Self.value)])
        let leaked = "AKIA" + "Z7QX4MBN2VKR9TWL"
        try h.write("body.txt", "please debug: aws_access_key_id = " + leaked + "\n")
        for mode in ["alert", "block"] {
            try h.write(
                "profile.yaml",
                """
                name: dlp
                network: proxy
                egress:
                  domains: ["llm.test:\(port)"]
                  allow_private: ["127.0.0.0/8"]
                  resolve: {llm.test: 127.0.0.1}
                  upstream_ca: [\(tls)/ca.pem]
                  dlp: \(mode)
                secrets:
                  - {name: LLMKEY, env: LLM_API_KEY, domains: [llm.test]}
                """, in: h.root)
            let r = try await h.cordon([
                "run", "--name", "dlp-" + mode, "--workspace", h.workspace, "--profile", h.root + "/profile.yaml", "--", "/bin/sh", "-c",
                "curl -sS -o /dev/null -w 'status %{http_code}\\n' -H \"Authorization: Bearer $LLM_API_KEY\" --data-binary @/workspace/body.txt https://llm.test:\(port)/v1/\(mode)",
            ])
            let log = try String(contentsOfFile: h.state + "/cordon/sandboxes/dlp-\(mode)/network.jsonl", encoding: .utf8)
            let alerts = log.split(separator: "\n").filter { $0.contains("\"rule\":\"dlp:") }
            #expect(!alerts.isEmpty && alerts.allSatisfy { $0.contains("llm.test") && !$0.contains(leaked) }, "\(log)")
            let arrived = server.received().contains { ($0["path"] as? String) == "/v1/" + mode }
            if mode == "alert" {
                #expect(Self.line(r.stdout, "status") == "200" && arrived, "\(r)")
            } else {
                #expect(Self.line(r.stdout, "status") == "403" && !arrived, "\(r)")
            }
        }
    }

    /// Node's own https client, which ignores proxy variables: its connection is captured on its
    /// way out (nftables), the ClientHello names llm.test, and the value goes in there too.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/node"), "node is not installed"))
    func aCapturedNodeClientGetsTheValueInjected() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let (server, tls) = try await Self.serve(h)
        defer { server.stop() }
        try await Self.storeSecretsAndProfile(h, port: server.port, tls: tls)
        let client = """
            const https = require("https");
            https.get({host: "llm.test", port: \(server.port), path: "/v1/node", headers: {Authorization: "Bearer " + process.env.LLM_API_KEY}}, (r) => {
              r.resume(); r.on("end", () => console.log("node " + r.statusCode));
            }).on("error", (e) => console.log("node error " + e.message));
            """
        try h.write("client.js", client)
        let r = try await h.cordon([
            "run", "--name", "node", "--workspace", h.workspace, "--profile", h.root + "/profile.yaml", "--", "/usr/bin/node", "/workspace/client.js",
        ])
        #expect(Self.line(r.stdout, "node") == "200", "\(r)")
        #expect(server.received().first?["authorization"] as? String == "Bearer " + Self.value, "\(server.received())")
        #expect(!r.stdout.contains(Self.value))
    }
}
