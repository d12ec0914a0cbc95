import CordonCore
import CordonPolicy
import NIOCore
import NIOSSL

/// TLS to an `https://` parent proxy: the proxy's certificate must chain to the system's trust
/// store, or to the CA certificates of `egress.parent_proxy.ca_file`, and name the proxy (its
/// host name, or its address when the URL gives one). Through that connection cordon sends its
/// CONNECT and then the tunnel's bytes, so the organisation's proxy sees only what it would see
/// from any client.
enum ParentProxyTLS {
    /// The context for `parent` when it is an `https://` proxy (nil otherwise), or why it cannot
    /// be built. Reads the CA file: called where the dialer is built.
    static func setUp(for parent: EgressConfiguration.ParentProxy?) -> Result<NIOSSLContext, CordonError>? {
        guard let parent, parent.url.value.tls else { return nil }
        do {
            return .success(try context(caFile: parent.caFile))
        } catch {
            return .failure(error)
        }
    }

    /// The client context; the CA file is read here, so a bad one stops the sandbox before it starts.
    static func context(caFile: String?) throws(CordonError) -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let caFile {
            let certificates: [NIOSSLCertificate]
            do {
                certificates = try NIOSSLCertificate.fromPEMFile(caFile)
            } catch {
                throw CordonError(
                    .invalidProfile, "egress.parent_proxy.ca_file: cannot read PEM certificates from \(caFile)", cause: "\(error)")
            }
            guard !certificates.isEmpty else {
                throw CordonError(.invalidProfile, "egress.parent_proxy.ca_file: \(caFile) holds no PEM certificate")
            }
            configuration.trustRoots = .certificates(certificates)
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw CordonError(.invalidProfile, "egress.parent_proxy: cannot set up TLS to the parent proxy", cause: "\(error)")
        }
    }

    /// The handler that goes first in a connection to the parent at `host` (a name is sent as
    /// SNI and checked against the certificate; an address is checked against its IP entries).
    static func handler(context: NIOSSLContext, host: String) throws -> NIOSSLClientHandler {
        let isAddress = Host(host)?.address != nil
        return try NIOSSLClientHandler(context: context, serverHostname: isAddress ? nil : host)
    }
}
