public import CordonCore
import Crypto
public import FoundationEssentials
import Synchronization
import SwiftASN1
import X509

#if canImport(Glibc)
    import Glibc
#endif

/// The leaf certificates the proxy shows a sandbox when it terminates TLS for a domain bound to a
/// secret: minted on first use by cordon's CA, for exactly one host name (or address), valid for a
/// week at most, and cached until a day before they lapse. All leaves of one minter share one key,
/// made when the minter is (it lives in the supervisor's memory only).
public final class LeafCertificates: Sendable {
    /// A leaf and what a TLS server needs with it.
    public struct Issued: Sendable {
        let certificate: Certificate
        /// The leaf then the CA certificate, as a server sends them.
        let chain: [Certificate]
        let privateKey: Certificate.PrivateKey

        /// The chain and the key in PEM, as TLS libraries load them.
        public func pem() throws(CordonError) -> (chain: String, key: String) {
            do {
                return (try chain.map { try $0.serializeAsPEM().pemString }.joined(separator: "\n") + "\n", try privateKey.serializeAsPEM().pemString + "\n")
            } catch {
                throw CordonError(.internal, "cannot encode the certificate for \(certificate.subject)", cause: "\(error)")
            }
        }
    }

    static let lifetime: TimeInterval = 7 * 86400
    static let renewBefore: TimeInterval = 86400
    /// Hosts kept at most; the cache starts over when full (a sandbox talks to a few bound hosts).
    static let capacity = 1024

    private let authority: CertificateAuthority
    private let key = P256.Signing.PrivateKey()
    private let cache = Mutex<[String: Issued]>([:])

    public init(authority: CertificateAuthority) {
        self.authority = authority
    }

    /// The leaf for `host`: a DNS name (`api.example.com`, compared without case) or an IPv4/IPv6
    /// address. Anything else is refused: the names come from the profile's bindings, and a leaf
    /// is never minted for a name that is not one.
    public func issue(for host: String, now: Date = Date()) throws(CordonError) -> Issued {
        let subject = try SubjectName(host)
        if let cached = cache.withLock({ $0[subject.text] }), cached.certificate.notValidAfter > now + Self.renewBefore,
            cached.certificate.notValidBefore <= now
        {
            return cached
        }
        let issued = try mint(subject, now: now)
        cache.withLock {
            if $0.count >= Self.capacity { $0.removeAll() }
            $0[subject.text] = issued
        }
        return issued
    }

    private func mint(_ subject: SubjectName, now: Date) throws(CordonError) -> Issued {
        let publicKey = Certificate.PublicKey(key.publicKey)
        let ca = authority.certificate
        let notAfter = min(now + Self.lifetime, ca.notValidAfter)
        do {
            let caKeyID = try ca.extensions.subjectKeyIdentifier?.keyIdentifier
            let certificate = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
                notValidBefore: max(now - 3600, ca.notValidBefore), notValidAfter: notAfter, issuer: ca.subject,
                subject: try DistinguishedName { CommonName(subject.text) },
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage([.serverAuth])
                    SubjectAlternativeNames([subject.generalName])
                    AuthorityKeyIdentifier(keyIdentifier: caKeyID)
                    SubjectKeyIdentifier(hash: publicKey)
                },
                issuerPrivateKey: Certificate.PrivateKey(authority.key))
            return Issued(certificate: certificate, chain: [certificate, ca], privateKey: Certificate.PrivateKey(key))
        } catch {
            throw CordonError(.internal, "cannot mint a certificate for \(subject.text)", cause: "\(error)")
        }
    }
}

/// A leaf's one name: a DNS name (lower-cased, LDH labels) or an IP address.
struct SubjectName: Equatable {
    let text: String
    let generalName: GeneralName

    init(_ host: String) throws(CordonError) {
        if let address = Self.address(host) {
            text = host
            generalName = .ipAddress(ASN1OctetString(contentBytes: ArraySlice(address)))
            return
        }
        let name = host.lowercased()
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        let valid =
            !name.isEmpty && name.utf8.count <= 253
            && labels.allSatisfy { label in
                !label.isEmpty && label.utf8.count <= 63 && label.first != "-" && label.last != "-"
                    && label.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
            }
        guard valid else {
            throw CordonError(.invalidArgument, "no certificate for \"\(TerminalText.escaped(host))\": not a DNS name or an IP address")
        }
        text = name
        generalName = .dnsName(name)
    }

    /// The address's network-order bytes when `host` is an IPv4 or IPv6 literal.
    static func address(_ host: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
