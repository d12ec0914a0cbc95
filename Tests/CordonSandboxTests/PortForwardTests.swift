import CordonCore
import CordonSandbox
import CordonTestSupport
import Foundation
import Glibc
import Testing

/// `cordon port`: a host loopback port carried into a sandbox brought up, with real sandboxes and
/// a server the test starts inside (each test brings its own down, whatever happens).
@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "needs user namespaces"), .timeLimit(.minutes(5)))
struct PortForwardTests {
    /// Starts `python3 -m http.server PORT` on the sandbox's 127.0.0.1, serving `/tmp/srv` with
    /// `marker.txt` (`marker`) and `big` (1 MiB: bytes 0…255 repeated); returns once it accepts.
    static func serve(_ h: SandboxHarness, _ name: String, marker: String, port: Int = 3000) async throws {
        let script = """
            mkdir -p /tmp/srv && cd /tmp/srv && echo \(marker) > marker.txt
            python3 -c "open('big','wb').write(bytes(range(256))*4096)"
            python3 -m http.server \(port) --bind 127.0.0.1 </dev/null >/dev/null 2>&1 &
            for i in $(seq 200); do
              python3 -c 'import socket; socket.create_connection(("127.0.0.1",\(port)),1)' 2>/dev/null && exit 0
              sleep 0.1
            done
            exit 1
            """
        let r = try await LifecycleTests.exec(h, name, script)
        #expect(r.status == 0, "the server in \(name) did not start: \(r.stderr)")
    }

    /// What a host client gets from 127.0.0.1:`port`: whether it connected (and errno when not)
    /// and every byte the other side sent until it closed. The request is followed by a
    /// half-close, which the forward must pass on.
    struct Fetched: Sendable {
        var connected: Bool
        var error: Int32 = 0
        var bytes: [UInt8] = []
        var text: String { String(decoding: bytes, as: UTF8.self) }
        /// The body after the HTTP head.
        var body: [UInt8] {
            let separator: [UInt8] = [13, 10, 13, 10]
            guard let range = bytes.firstRange(of: separator) else { return [] }
            return Array(bytes[range.upperBound...])
        }
    }

    static func fetch(port: UInt16, request: String = "GET /marker.txt HTTP/1.0\r\n\r\n") async throws -> Fetched {
        try await SandboxHarness.offPool {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { return Fetched(connected: false, error: errno) }
            defer { close(fd) }
            var timeout = timeval(tv_sec: 20, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let rc = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard rc == 0 else { return Fetched(connected: false, error: errno) }
            var result = Fetched(connected: true)
            _ = request.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
            shutdown(fd, Int32(SHUT_WR))
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n < 0 && errno == EINTR { continue }
                if n < 0 { result.error = errno }
                guard n > 0 else { break }
                result.bytes += chunk[..<n]
            }
            return result
        }
    }

    /// `cordon port NAME MAPPING`: the host port it printed.
    static func forward(_ h: SandboxHarness, _ name: String, _ mapping: String) async throws -> UInt16 {
        let r = try await h.cordon(["port", name, mapping])
        #expect(r.status == 0, "port \(name) \(mapping): \(r.stderr)")
        let printed = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(printed.hasPrefix("127.0.0.1:"), "\(r.stdout)")
        return try #require(UInt16(printed.dropFirst("127.0.0.1:".count)), "\(r.stdout) \(r.stderr)")
    }

    static func jsonObject(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
    }

    /// The forwards a `--json` document lists, as (host port, sandbox port).
    static func forwards(_ document: [String: Any]?) -> [[Int]] {
        ((document?["forwards"] ?? document?["ports"]) as? [[String: Any]] ?? []).map {
            #expect($0["host_address"] as? String == "127.0.0.1")
            return [$0["host_port"] as? Int ?? -1, $0["sandbox_port"] as? Int ?? -1]
        }
    }

    /// The forward carries a real HTTP exchange both ways (the request's half-close included, and
    /// 1 MiB back intact); it is listed (text and JSON), shown in status and audited; `--rm`
    /// stops it (connection refused); a taken host port and a port forwarded twice are refused,
    /// naming the port; `down` removes every forward, its socket and its list.
    @Test func forwardCarriesTrafficIsListedRemovedAndEndsWithDown() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup(downing: ["pf-a"]) }
        try await LifecycleTests.up(h, "pf-a")
        try await Self.serve(h, "pf-a", marker: "served-by-pf-a")
        let picked = try await Self.forward(h, "pf-a", "0:3000")
        let got = try await Self.fetch(port: picked)
        #expect(got.connected && got.text.hasPrefix("HTTP/1.0 200"), "\(got)")
        #expect(got.text.hasSuffix("served-by-pf-a\n"), "\(got.text)")
        // [::1] too, where the host has IPv6 loopback (`localhost` may be either).
        if Self.hasIPv6Loopback {
            let v6 = try await SandboxHarness.run(
                [
                    "/usr/bin/python3", "-c",
                    "import socket; s=socket.create_connection(('::1', \(picked)), 10); s.sendall(b'GET /marker.txt HTTP/1.0\\r\\n\\r\\n'); s.shutdown(socket.SHUT_WR); print(s.makefile('rb').read().decode())",
                ], environment: nil)
            #expect(v6.status == 0 && v6.stdout.contains("served-by-pf-a"), "\(v6)")
        }
        let big = try await Self.fetch(port: picked, request: "GET /big HTTP/1.0\r\n\r\n")
        #expect(big.body == Array((0..<4096).map { _ in (0...255).map(UInt8.init) }.joined()), "\(big.bytes.count) bytes")

        // A second forward on a port the test chose; the same host port again is refused.
        let free = try Self.freePort()
        #expect(try await Self.forward(h, "pf-a", "\(free):3000") == free)
        let twice = try await h.cordon(["port", "pf-a", "\(free):3000"])
        #expect(twice.status == 1 && twice.stderr.contains("host port \(free) is already forwarded"), "\(twice)")
        // A host port something else holds: named, with what to do.
        let (holder, taken) = try Self.hostListener()
        defer { close(holder) }
        let refused = try await h.cordon(["port", "pf-a", "\(taken):3000"])
        #expect(refused.status == 1, "\(refused)")
        #expect(refused.stderr.contains("host port \(taken) is taken") && refused.stderr.contains("fix:"), "\(refused.stderr)")

        let text = try await h.cordon(["port", "pf-a"])
        #expect(text.status == 0 && text.stdout.contains("127.0.0.1:\(picked)") && text.stdout.contains("127.0.0.1:\(free)"), "\(text.stdout)")
        let listed = try Self.jsonObject(try await h.cordon(["port", "pf-a", "--json"]).stdout)
        #expect(listed["version"] as? Int == 1 && listed["sandbox"] as? String == "pf-a")
        #expect(Set(Self.forwards(listed)) == [[Int(picked), 3000], [Int(free), 3000]], "\(listed)")
        let status = try Self.jsonObject(try await h.cordon(["status", "pf-a", "--json"]).stdout)["sandbox"] as? [String: Any]
        #expect(Set(Self.forwards(status)) == [[Int(picked), 3000], [Int(free), 3000]], "\(status ?? [:])")
        let statusText = try await h.cordon(["status", "pf-a"])
        #expect(statusText.stdout.contains("ports: 127.0.0.1:\(min(picked, free)) -> 3000"), "\(statusText.stdout)")

        // --rm: that port refuses connections; the other carries on.
        let removed = try await h.cordon(["port", "pf-a", "--rm", "\(picked)", "--json"])
        #expect(removed.status == 0, "\(removed.stderr)")
        #expect(Self.forwards(try Self.jsonObject(removed.stdout)) == [[Int(free), 3000]], "\(removed.stdout)")
        let gone = try await Self.fetch(port: picked)
        #expect(!gone.connected && gone.error == ECONNREFUSED, "\(gone)")
        #expect(try await Self.fetch(port: free).text.hasSuffix("served-by-pf-a\n"))
        let again = try await h.cordon(["port", "pf-a", "--rm", "\(picked)"])
        #expect(again.status == 1 && again.stderr.contains("host port \(picked) is not forwarded into pf-a"), "\(again)")

        let audit = try await h.cordon(["audit", "pf-a", "--json"])
        #expect(audit.stdout.contains(#""kind":"port""#) || audit.stdout.contains(#""kind": "port""#), "\(audit.stdout)")
        #expect(audit.stdout.contains("\"remove\""), "\(audit.stdout)")

        let layout = try #require(Self.layout(h, "pf-a") as SandboxLayout?)
        #expect(FileManager.default.fileExists(atPath: layout.portsRecord))
        let down = try await h.cordon(["down", "pf-a"])
        #expect(down.status == 0, "\(down.stderr)")
        let after = try await Self.fetch(port: free)
        #expect(!after.connected && after.error == ECONNREFUSED, "\(after)")
        #expect(!FileManager.default.fileExists(atPath: layout.portsRecord) && !FileManager.default.fileExists(atPath: layout.portSocket))
        let stopped = try await h.cordon(["port", "pf-a"])
        #expect(stopped.status == 1 && stopped.stderr.contains("sandbox pf-a is not running"), "\(stopped)")
        let verify = try await h.cordon(["audit", "verify", "pf-a"])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
    }

    /// Two sandboxes, each with its own server on the same port 3000: each forward reaches its
    /// own sandbox's, never the other's or the host's.
    @Test func twoSandboxesEachForwardToTheirOwnServer() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup(downing: ["pf-b", "pf-c"]) }
        try await LifecycleTests.up(h, "pf-b")
        try await LifecycleTests.up(h, "pf-c")
        try await Self.serve(h, "pf-b", marker: "served-by-pf-b")
        try await Self.serve(h, "pf-c", marker: "served-by-pf-c")
        let b = try await Self.forward(h, "pf-b", "0:3000")
        let c = try await Self.forward(h, "pf-c", "0:3000")
        for _ in 0..<3 {
            let fromB = try await Self.fetch(port: b)
            let fromC = try await Self.fetch(port: c)
            #expect(fromB.text.hasSuffix("served-by-pf-b\n"), "\(fromB.text)")
            #expect(fromC.text.hasSuffix("served-by-pf-c\n"), "\(fromC.text)")
        }
    }

    /// The forward's target is the sandbox's own loopback: a server on the host's 127.0.0.1 at
    /// the same port is never reached through it (were the forward's socket made in the host's
    /// namespace, it would be). With nothing listening inside, the client's connection is closed,
    /// the supervisor says so once in the sandbox's log and carries on; its forwards go with it
    /// when it is killed. The host side listens on loopback only.
    @Test func forwardReachesOnlyTheSandboxsLoopbackAndSurvivesNothingListening() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup(downing: ["pf-d"]) }
        try await LifecycleTests.up(h, "pf-d")
        // The host's own server, on a port nothing in the sandbox listens on.
        let (hostServer, hostPort) = try Self.hostListener()
        defer { close(hostServer) }
        let serving = Self.answerOnce(hostServer, with: "host-secret")
        let blind = try await Self.forward(h, "pf-d", "0:\(hostPort)")
        let firstAttempt = ContinuousClock.now
        let attempt = try await Self.fetch(port: blind)
        #expect(!attempt.text.contains("host-secret"), "the forward reached the host's loopback: \(attempt.text)")
        #expect(attempt.bytes.isEmpty, "\(attempt)")
        serving.cancel()
        let log = try await h.cordon(["logs", "pf-d"])
        #expect(log.stdout.contains("nothing listens on 127.0.0.1:\(hostPort) in the sandbox"), "\(log.stdout) \(log.stderr)")
        // More refused connections: the log says it once per 10 s interval, not once each (a
        // loaded host may stretch the six attempts over more than one interval).
        for _ in 0..<5 { _ = try await Self.fetch(port: blind) }
        let intervals = Int((ContinuousClock.now - firstAttempt) / .seconds(10))
        let lines = try await h.cordon(["logs", "pf-d"]).stdout.components(separatedBy: "nothing listens on").count - 1
        #expect(lines >= 1 && lines <= 1 + intervals, "\(lines) lines in \(intervals + 1) intervals")

        // The supervisor carries on: a server started now is reached through a new forward.
        try await Self.serve(h, "pf-d", marker: "served-by-pf-d", port: 3001)
        let live = try await Self.forward(h, "pf-d", "0:3001")
        #expect(try await Self.fetch(port: live).text.hasSuffix("served-by-pf-d\n"))
        // Loopback only: the listener's address is 127.0.0.1 (/proc/net/tcp), and a non-loopback
        // address of this host does not answer on that port.
        // Asked of the kernel by netlink (ss): /proc/net/tcp, read a page at a time while other tests
        // open and close thousands of connections, was seen to miss the IPv4 listener.
        let listening = try await SandboxHarness.run(["/usr/bin/ss", "-ltnH", "sport = :\(live)"], environment: nil)
        let addresses = Set(listening.stdout.split(separator: "\n").compactMap { $0.split(separator: " ").dropFirst(3).first.map(String.init) })
        #expect(addresses.contains("127.0.0.1:\(live)") && addresses.isSubset(of: ["127.0.0.1:\(live)", "[::1]:\(live)"]), "\(listening.stdout)")
        if let external = Self.externalAddress() {
            let r = try await SandboxHarness.run(
                ["/usr/bin/python3", "-c", "import socket,sys; s=socket.socket(); s.settimeout(5); sys.exit(s.connect_ex(('\(external)', \(live))))"],
                environment: nil)
            #expect(r.status != 0, "\(external):\(live) accepted a connection")
        }

        // Killed supervisor: its forwards are gone with it.
        let status = try Self.jsonObject(try await h.cordon(["status", "pf-d", "--json"]).stdout)["sandbox"] as? [String: Any]
        let supervisor = try #require(status?["supervisor_pid"] as? Int, "\(status ?? [:])")
        #expect(kill(Int32(supervisor), SIGKILL) == 0)
        var gone = Fetched(connected: true)
        for _ in 0..<100 {
            gone = try await Self.fetch(port: live)
            if !gone.connected { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(!gone.connected && gone.error == ECONNREFUSED, "\(gone)")
        let crashed = try Self.jsonObject(try await h.cordon(["status", "pf-d", "--json"]).stdout)["sandbox"] as? [String: Any]
        #expect(Self.forwards(crashed).isEmpty, "\(crashed ?? [:])")
    }

    /// A user who is not root forwards into their own sandbox: the supervisor has no privilege
    /// over the sandbox's network namespace in the host's user namespace, and joins the
    /// sandbox's user namespace (which it owns) to reach it.
    @Test(.enabled(if: SandboxHarness.isRoot, "needs root to switch to another user"))
    func aUserWhoIsNotRootForwards() async throws {
        let h = try SandboxHarness()
        _ = try await SandboxHarness.run(["/bin/chown", "-R", "65534:65534", h.root], environment: nil)
        _ = try await SandboxHarness.run(["/bin/chmod", "755", h.root], environment: nil)
        func asUser(_ arguments: [String]) async throws -> SandboxHarness.Result {
            try await SandboxHarness.run(
                ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", SandboxHarness.cordon] + arguments, environment: h.environment(),
                directory: h.workspace, timeout: 60)
        }
        defer { h.cleanup(downing: ["pf-user"], as: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]) }
        let up = try await asUser(["up", "--name", "pf-user", "--workspace", h.workspace])
        #expect(up.status == 0, "\(up.stderr)")
        let started = try await asUser([
            "exec", "pf-user", "--", "/bin/sh", "-c",
            """
            mkdir -p /tmp/srv && cd /tmp/srv && echo served-rootless > marker.txt
            python3 -m http.server 3000 --bind 127.0.0.1 </dev/null >/dev/null 2>&1 &
            for i in $(seq 200); do python3 -c 'import socket; socket.create_connection(("127.0.0.1",3000),1)' 2>/dev/null && exit 0; sleep 0.1; done; exit 1
            """,
        ])
        #expect(started.status == 0, "\(started.stderr)")
        let port = try await asUser(["port", "pf-user", "0:3000"])
        #expect(port.status == 0, "\(port.stderr)")
        let printed = port.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let hostPort = try #require(UInt16(printed.dropFirst("127.0.0.1:".count)), "\(port)")
        let got = try await Self.fetch(port: hostPort)
        let logs = try await asUser(["logs", "pf-user"]).stdout
        #expect(got.text.hasSuffix("served-rootless\n"), "\(got) \(logs)")
    }

    // MARK: Helpers

    static func layout(_ h: SandboxHarness, _ name: String) -> SandboxLayout? {
        let directory = h.state + "/cordon/sandboxes/" + name
        return FileManager.default.fileExists(atPath: directory) ? SandboxLayout(directory: directory) : nil
    }

    /// A listening socket on the host's 127.0.0.1 at a port the kernel picked.
    static func hostListener() throws -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard fd >= 0, bound else { throw POSIXError(.EADDRNOTAVAIL) }
        return (fd, UInt16(bigEndian: address.sin_port))
    }

    /// A port free on the host's loopback now.
    static func freePort() throws -> UInt16 {
        let (fd, port) = try hostListener()
        close(fd)
        return port
    }

    /// Answers the first connection on `listener` with `text` (cancelled: it stops waiting).
    static func answerOnce(_ listener: Int32, with text: String) -> Task<Void, Never> {
        Task.detached {
            var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            while !Task.isCancelled {
                guard poll(&poller, 1, 100) > 0 else { continue }
                let client = accept(listener, nil, nil)
                if client >= 0 {
                    _ = text.withCString { send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
                    close(client)
                }
            }
        }
    }

    /// The local addresses (hex, as /proc/net/tcp shows them) of sockets listening on `port`.
    static var hasIPv6Loopback: Bool {
        ((try? String(contentsOfFile: "/proc/net/if_inet6", encoding: .utf8)) ?? "").contains("00000000000000000000000000000001")
    }

    /// An IPv4 address of this host that is not loopback, if it has one.
    static func externalAddress() -> String? {
        guard let r = try? SandboxHarness.runBlocking(["/usr/bin/hostname", "-I"], environment: nil, timeout: 10), r.status == 0 else { return nil }
        return r.stdout.split(separator: " ").map(String.init).first { $0.contains(".") && !$0.hasPrefix("127.") }
    }
}
