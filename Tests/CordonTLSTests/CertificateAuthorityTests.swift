import CordonCore
import CordonTestSupport
import FoundationEssentials
import Glibc
import Testing
import X509

@testable import CordonTLS

@Suite struct CertificateAuthorityTests {
    static func mode(_ path: String) -> mode_t {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_mode & 0o7777 : 0
    }

    static func openssl(_ arguments: [String]) async throws -> ProcessResult {
        try await ProcessRunner.run(["/usr/bin/openssl"] + arguments, timeout: .seconds(60))
    }

    @Test func aNewAuthorityKeepsItsKeyOwnerOnlyAndIsTheSameWhenLoadedAgain() async throws {
        let tree = try TempTree()
        let directory = tree.path("data/ca")
        let first = try CertificateAuthority.loadOrCreate(in: directory)
        #expect(Self.mode(directory) == 0o700)
        #expect(Self.mode(directory + "/ca-key.pem") == 0o600)
        #expect(Self.mode(directory + "/ca.pem") == 0o644)
        let second = try CertificateAuthority.loadOrCreate(in: directory)
        #expect(first.certificate == second.certificate)
        let text = try await Self.openssl(["x509", "-in", directory + "/ca.pem", "-noout", "-text"])
        #expect(text.status == 0)
        #expect(text.stdout.contains("CA:TRUE, pathlen:0"))
        #expect(text.stdout.contains("Certificate Sign"))
        // The certificate sandboxes get holds no key.
        #expect(!(try String(contentsOfFile: directory + "/ca.pem", encoding: .utf8)).contains("PRIVATE KEY"))
    }

    @Test func aLeafVerifiesForItsOwnNameAndNoOther() async throws {
        let tree = try TempTree()
        let authority = try CertificateAuthority.loadOrCreate(in: tree.path("ca"))
        let leaves = LeafCertificates(authority: authority)
        let issued = try leaves.issue(for: "API.Example.TEST")
        tree.write("leaf.pem", try issued.pem().chain)
        let ca = tree.path("ca/ca.pem"), leaf = tree.path("leaf.pem")
        let good = try await Self.openssl(["verify", "-CAfile", ca, "-purpose", "sslserver", "-verify_hostname", "api.example.test", leaf])
        #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
        let other = try await Self.openssl(["verify", "-CAfile", ca, "-purpose", "sslserver", "-verify_hostname", "other.example.test", leaf])
        #expect(other.status != 0)
        // Without cordon's CA (the host's own trust store) the leaf is not trusted.
        let host = try await Self.openssl(["verify", "-purpose", "sslserver", leaf])
        #expect(host.status != 0)

        let address = try leaves.issue(for: "127.0.0.1")
        tree.write("ip.pem", try address.pem().chain)
        let ip = try await Self.openssl(["verify", "-CAfile", ca, "-purpose", "sslserver", "-verify_ip", "127.0.0.1", tree.path("ip.pem")])
        #expect(ip.status == 0, "\(ip.stdout)\(ip.stderr)")
    }

    @Test func leavesAreCachedPerNameAndRenewedBeforeTheyLapse() throws {
        let tree = try TempTree()
        let leaves = LeafCertificates(authority: try CertificateAuthority.loadOrCreate(in: tree.path("ca")))
        let now = Date()
        let first = try leaves.issue(for: "a.example.test", now: now)
        #expect(try leaves.issue(for: "A.EXAMPLE.test", now: now + 3600).certificate == first.certificate)
        #expect(try leaves.issue(for: "b.example.test", now: now).certificate != first.certificate)
        let later = try leaves.issue(for: "a.example.test", now: now + 6.5 * 86400)
        #expect(later.certificate != first.certificate)
        #expect(later.certificate.notValidAfter > now + 7 * 86400)
    }

    @Test func namesThatAreNotHostsGetNoCertificate() throws {
        let tree = try TempTree()
        let leaves = LeafCertificates(authority: try CertificateAuthority.loadOrCreate(in: tree.path("ca")))
        for name in [
            "", "a b.example", "evil\u{1b}[2J.example", "*.example.test", "-x.example.test", "x..example", "a/b", String(repeating: "a", count: 64) + ".test",
        ] {
            #expect(throws: CordonError.self, "\(name)") { try leaves.issue(for: name) }
        }
    }

    @Test func aKeyOthersCouldReadOrALinkedKeyIsRefused() throws {
        let tree = try TempTree()
        let directory = tree.path("ca")
        _ = try CertificateAuthority.loadOrCreate(in: directory)
        let key = directory + "/ca-key.pem"
        chmod(key, 0o644)
        let readable = #expect(throws: CordonError.self) { try CertificateAuthority.loadOrCreate(in: directory) }
        #expect(readable?.hint?.contains("chmod 600") == true)
        chmod(key, 0o600)
        rename(key, tree.path("elsewhere.pem"))
        symlink(tree.path("elsewhere.pem"), key)
        #expect(throws: CordonError.self) { try CertificateAuthority.loadOrCreate(in: directory) }
        unlink(key)
        rename(tree.path("elsewhere.pem"), key)
        chmod(directory, 0o755)
        let open = #expect(throws: CordonError.self) { try CertificateAuthority.loadOrCreate(in: directory) }
        #expect(open?.hint?.contains("chmod 700") == true)
        tree.write("ca/ca-key.pem", "not a key\n", mode: 0o600)
        chmod(directory, 0o700)
        let corrupt = #expect(throws: CordonError.self) { try CertificateAuthority.loadOrCreate(in: directory) }
        #expect(corrupt?.message.contains("not a P-256 private key") == true, "\(String(describing: corrupt))")
    }

    @Test func anAuthorityAboutToLapseIsRenewedWithTheSameKey() throws {
        let tree = try TempTree()
        let now = Date()
        let first = try CertificateAuthority.loadOrCreate(in: tree.path("ca"), now: now)
        let renewed = try CertificateAuthority.loadOrCreate(in: tree.path("ca"), now: now + CertificateAuthority.lifetime - 10 * 86400)
        #expect(renewed.certificate != first.certificate)
        #expect(renewed.certificate.publicKey == first.certificate.publicKey)
        #expect(
            try CertificateAuthority.loadOrCreate(in: tree.path("ca"), now: now + CertificateAuthority.lifetime - 10 * 86400).certificate == renewed.certificate
        )
    }

    /// A real TLS client (curl) trusting only the merged bundle reaches a server that shows a
    /// minted leaf; trusting the host's bundle alone, it refuses the same server.
    @Test func aClientTrustingTheMergedBundleCompletesAHandshake() async throws {
        let tree = try TempTree()
        let authority = try CertificateAuthority.loadOrCreate(in: tree.path("ca"))
        let pem = try LeafCertificates(authority: authority).issue(for: "api.example.test").pem()
        tree.write("chain.pem", pem.chain)
        tree.write("key.pem", pem.key, mode: 0o600)
        tree.writeBytes("bundle.pem", try TrustBundle.merged(authority: authority))
        tree.write("www/index.html", "minted\n")
        let server = try RunningProcess(
            [
                "/usr/bin/python3", "-c",
                """
                import http.server, ssl, functools
                handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory="\(tree.path("www"))")
                server = http.server.HTTPServer(("127.0.0.1", 0), handler)
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain("\(tree.path("chain.pem"))", "\(tree.path("key.pem"))")
                server.socket = context.wrap_socket(server.socket, server_side=True)
                print(server.server_address[1], flush=True)
                server.serve_forever()
                """,
            ], discardStderr: true)
        let port = String(try await server.readLine().filter(\.isNumber))
        let url = "https://api.example.test:\(port)/index.html"
        let resolve = "api.example.test:\(port):127.0.0.1"
        let trusted = try await ProcessRunner.run(
            ["/usr/bin/curl", "-sS", "--cacert", tree.path("bundle.pem"), "--resolve", resolve, url], timeout: .seconds(30))
        #expect(trusted.status == 0, "\(trusted.stderr)")
        #expect(trusted.stdout == "minted\n")
        if let host = TrustBundle.hostBundle {
            let untrusted = try await ProcessRunner.run(["/usr/bin/curl", "-sS", "--cacert", host, "--resolve", resolve, url], timeout: .seconds(30))
            #expect(untrusted.status == 60, "\(untrusted.stderr)")
        }
    }
}
