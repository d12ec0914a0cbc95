import CordonTestSupport
import Foundation
import Glibc
import Testing

/// A real HTTP (or HTTPS) server on the host's loopback, in a python3 child process: the far end
/// of the sandbox's allowed egress. `GET /any` answers `hello <Host header>`; `GET /big?mb=N`
/// streams N MiB.
final class LoopbackServer: Sendable {
    let port: Int
    private let process: RunningProcess

    static let script = #"""
        import http.server, socketserver, ssl, sys
        class H(http.server.SimpleHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *a): pass
            def do_GET(self):
                if self.path.startswith("/files/"):
                    self.path = self.path[len("/files"):]
                    return super().do_GET()
                if self.path.startswith("/big?mb="):
                    n = int(self.path.split("=")[1])
                    self.send_response(200)
                    self.send_header("Content-Length", str(n << 20))
                    self.end_headers()
                    chunk = b"x" * 65536
                    for _ in range(n * 16): self.wfile.write(chunk)
                    return
                body = ("hello " + (self.headers.get("Host") or "-") + "\n").encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
        s = S(("127.0.0.1", 0), H)
        if len(sys.argv) > 2:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(sys.argv[1], sys.argv[2])
            s.socket = ctx.wrap_socket(s.socket, server_side=True)
        print(s.server_address[1], flush=True)
        s.serve_forever()
        """#

    /// `tlsDirectory`: where to put a self-signed certificate for allowed.test (made with openssl).
    /// `/files/…` serves `directory` (a bare git repository for dumb-HTTP clones).
    init(tlsDirectory: String? = nil, directory: String? = nil) throws {
        var arguments = ["-c", Self.script]
        if let dir = tlsDirectory {
            let made = try SandboxHarness.runBlocking(
                [
                    "/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                    "-subj", "/CN=allowed.test", "-addext", "subjectAltName=DNS:allowed.test",
                    "-keyout", dir + "/key.pem", "-out", dir + "/cert.pem",
                ], environment: nil)
            guard made.status == 0 else { throw POSIXError(.EIO) }
            arguments += [dir + "/cert.pem", dir + "/key.pem"]
        }
        let process = try RunningProcess(["/usr/bin/python3"] + arguments, directory: directory, discardStderr: true)
        guard let port = Int(try process.readLine()) else {
            process.signal(SIGKILL, group: true)
            throw TestSupportError("the loopback server printed no port")
        }
        self.port = port
        self.process = process
    }

    /// Starts one off the cooperative pool (python's start-up must not hold a pool thread that
    /// other suites' proxies need).
    static func start(tlsDirectory: String? = nil, directory: String? = nil) async throws -> LoopbackServer {
        try await SandboxHarness.offPool { try LoopbackServer(tlsDirectory: tlsDirectory, directory: directory) }
    }

    static var tlsAvailable: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") }

    /// SIGKILL: a child started from a Dispatch thread inherits its blocked SIGTERM.
    func stop() { process.killInBackground() }
}
