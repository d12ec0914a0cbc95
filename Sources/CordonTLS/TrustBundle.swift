public import CordonCore
import CordonOS

/// What a sandbox trusts: the host's CA bundle with cordon's CA appended, as one PEM file, and
/// the variables that point the common tools at it (OpenSSL, curl, Python's requests and pip,
/// Node, git, the AWS SDKs).
public enum TrustBundle {
    public static let variables = [
        "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO", "PIP_CERT", "AWS_CA_BUNDLE",
    ]

    /// Where Debian, Fedora, Arch and Alpine keep the system bundle; the first that exists is used.
    public static let hostBundles = [
        "/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem", "/etc/ca-certificates/extracted/tls-ca-bundle.pem",
    ]

    /// The merged bundle's bytes: the host's bundle (when it has one) then cordon's CA, marked by
    /// a comment so that a user reading the file inside sees where it came from.
    public static var hostBundle: String? { hostBundles.first { FileIO.kind($0) == .file } }

    public static func merged(authority: CertificateAuthority, hostBundle: String? = hostBundle) throws(CordonError) -> [UInt8] {
        var bytes: [UInt8] = []
        if let hostBundle {
            do throws(SystemError) { bytes = try FileIO.readFile(hostBundle, limit: 16 * 1024 * 1024) } catch {
                throw error.cordonError(.io, "cannot read the host's CA bundle \(hostBundle)")
            }
            if let last = bytes.last, last != UInt8(ascii: "\n") { bytes.append(UInt8(ascii: "\n")) }
        }
        bytes += Array("# cordon's CA: the proxy shows certificates it signed for domains bound to a secret\n".utf8)
        bytes += Array(try authority.certificatePEM.utf8)
        if bytes.last != UInt8(ascii: "\n") { bytes.append(UInt8(ascii: "\n")) }
        return bytes
    }
}
