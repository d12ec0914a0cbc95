import CordonTestSupport
import Foundation
import Glibc
import Testing

/// A refused host inside a real sandbox: the agent's client sees the reason and the fix in the
/// proxy's answer, and the terminal of `cordon run` gets one live line per refused host, however
/// often the agent retries, with what the agent chose reduced to safe characters.
@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"), .timeLimit(.minutes(5)))
struct RefusalNoticeTests {
    static let profile = "name: refusals\nnetwork: proxy\negress:\n  domains: []\n"

    @Test func clientsSeeTheReasonAndTheRunSaysEachHostOnce() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("profile.yaml", Self.profile, in: h.root)
        try h.write(
            "fetch.py",
            """
            import urllib.request, sys
            try:
                urllib.request.urlopen(sys.argv[1], timeout=20)
                print("fetched")
            except Exception as e:
                print("python:", e)
            """)
        let script = """
            python3 /workspace/fetch.py https://unlisted.test/
            python3 /workspace/fetch.py http://plain.test/
            i=0; while [ $i -lt 50 ]; do curl -s -o /dev/null https://unlisted.test/; i=$((i+1)); done
            echo "curl-body $(curl -s http://other.test/)"
            """
        let r = try await h.cordon(
            ["run", "--name", "refuse", "--profile", h.root + "/profile.yaml", "--workspace", h.workspace, "--", "/bin/sh", "-c", script])
        #expect(r.status == 0, "\(r.stderr)")
        // The CONNECT answer's status line (what Python, and pip, show).
        #expect(
            r.stdout.contains(
                "python: <urlopen error Tunnel connection failed: 403 Forbidden (cordon: unlisted.test is not in egress.domains; fix: cordon allow refuse unlisted.test"
            ),
            "\(r.stdout)")
        // A forward request's status line, and its body.
        #expect(r.stdout.contains("python: HTTP Error 403: Forbidden (cordon: plain.test is not in egress.domains"), "\(r.stdout)")
        #expect(
            r.stdout.contains(
                "curl-body cordon refused other.test:80: other.test is not in egress.domains (rule not-listed). Allow it with: cordon allow refuse other.test"),
            "\(r.stdout)")
        // 51 refusals of unlisted.test: one live line.
        let lines = r.stderr.split(separator: "\n").filter { $0.contains("was refused unlisted.test:443") }
        #expect(lines.count == 1, "\(r.stderr)")
        #expect(lines.first?.contains("to allow: cordon allow refuse unlisted.test") == true, "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").filter { $0.contains("was refused plain.test:80") }.count == 1, "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").filter { $0.contains("was refused other.test:80") }.count == 1, "\(r.stderr)")
    }

    /// The agent names a host made of terminal escapes (a DNS name is bytes), then 30 hosts at
    /// once: the live lines carry no escape and do not flood.
    @Test func hostileHostNamesAreNeitherEchoedRawNorFlooded() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("profile.yaml", Self.profile, in: h.root)
        try h.write(
            "raw.py",
            """
            import socket, os, struct
            q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
            for label in [b"\\x1b]0;pwned\\x07\\x1b[2J", b"test"]: q += bytes([len(label)]) + label
            q += b"\\0" + struct.pack(">HH", 1, 1)
            d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); d.settimeout(5)
            d.sendto(q, ("8.8.8.8", 53))
            print("dns", d.recv(512)[3] & 0xF)
            port = int(os.environ["HTTP_PROXY"].rsplit(":", 1)[1].strip("/"))
            for i in range(30):
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                s.sendall(b"CONNECT h" + str(i).encode() + b".test:443 HTTP/1.1\\r\\n\\r\\n")
                while s.recv(4096): pass
            print("done")
            """)
        let r = try await h.cordon(
            ["run", "--name", "hostile", "--profile", h.root + "/profile.yaml", "--workspace", h.workspace, "--", "/usr/bin/python3", "/workspace/raw.py"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "dns 3\ndone\n", "\(r.stdout)")
        let unsafe = r.stderr.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 }
        #expect(!unsafe, "\(r.stderr.debugDescription)")
        let live = r.stderr.split(separator: "\n").filter { $0.contains(" was refused ") }
        #expect(live.first?.hasPrefix("cordon: hostile was refused the name ?]0?pwned??[2J.test: ") == true, "\(r.stderr)")
        // 31 hosts within a second or so: a few lines, the rest counted or left to the network log.
        #expect(live.count >= 1 && live.count <= 12, "\(r.stderr)")
    }
}
