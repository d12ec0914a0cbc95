public import CordonCore
import CordonOS
import Crypto
import SwiftASN1
public import FoundationEssentials
import X509

#if canImport(Glibc)
    import Glibc
#endif

/// cordon's certificate authority, one per installation: it signs the leaf certificates the proxy
/// shows a sandbox for the domains whose requests carry a secret (docs/threat-model.md). Its key
/// stays on the host in `directory` (0700) as `ca-key.pem` (0600, never copied into a sandbox);
/// `ca.pem` is the certificate sandboxes trust. It is never added to the host's own trust store.
public struct CertificateAuthority: Sendable {
    let certificate: Certificate
    let key: P256.Signing.PrivateKey

    public static let keyFile = "ca-key.pem"
    public static let certificateFile = "ca.pem"
    /// How long a new CA certificate is valid; one about to lapse is renewed with the same key.
    static let lifetime: TimeInterval = 10 * 365 * 86400
    static let renewBefore: TimeInterval = 30 * 86400

    /// The certificate in PEM, as sandboxes get it.
    public var certificatePEM: String {
        get throws(CordonError) {
            do { return try certificate.serializeAsPEM().pemString } catch {
                throw CordonError(.internal, "cannot encode cordon's CA certificate", cause: "\(error)")
            }
        }
    }

    /// The CA kept in `directory`, made on first use. Two cordon processes starting at once make
    /// one CA (a lock file serialises them). A key file that anyone but its owner could read, one
    /// that is a symlink or not the caller's, is refused rather than used.
    public static func loadOrCreate(in directory: String, now: Date = Date()) throws(CordonError) -> CertificateAuthority {
        try PrivateFiles.prepareDirectory(directory)
        return try PrivateFiles.withLock(directory + "/ca.lock") { () throws(CordonError) -> CertificateAuthority in
            let keyPath = directory + "/" + keyFile
            let certificatePath = directory + "/" + certificateFile
            guard let keyBytes = try PrivateFiles.readOwnerOnly(keyPath) else {
                let authority = try issue(key: P256.Signing.PrivateKey(), now: now)
                try PrivateFiles.write(keyPath, Array(authority.key.pemRepresentation.utf8), mode: 0o600)
                try PrivateFiles.write(certificatePath, Array(try authority.certificatePEM.utf8), mode: 0o644)
                return authority
            }
            let key: P256.Signing.PrivateKey
            do { key = try P256.Signing.PrivateKey(pemRepresentation: String(decoding: keyBytes, as: UTF8.self)) } catch {
                throw CordonError(
                    .invalidArgument, "\(keyPath) is not a P-256 private key in PEM",
                    hint: "remove \(directory) to make a new CA (sandboxes get it at their next start)")
            }
            if let existing = try? loadCertificate(certificatePath), existing.publicKey == Certificate.PublicKey(key.publicKey),
                existing.notValidAfter > now + renewBefore, existing.notValidBefore <= now + 3600
            {
                return CertificateAuthority(certificate: existing, key: key)
            }
            // No certificate, someone else's, or one about to lapse: a new one for the same key.
            let authority = try issue(key: key, now: now)
            try PrivateFiles.write(certificatePath, Array(try authority.certificatePEM.utf8), mode: 0o644)
            return authority
        }
    }

    private static func loadCertificate(_ path: String) throws -> Certificate {
        let bytes = try FileIO.readFile(path, limit: 64 * 1024)
        return try Certificate(pemEncoded: String(decoding: bytes, as: UTF8.self))
    }

    /// A self-signed CA certificate for `key`: it may sign end-entity certificates only
    /// (path length 0), for server authentication.
    static func issue(key: P256.Signing.PrivateKey, now: Date) throws(CordonError) -> CertificateAuthority {
        do {
            let publicKey = Certificate.PublicKey(key.publicKey)
            let name = try DistinguishedName {
                OrganizationName("cordon")
                CommonName("cordon sandbox CA (\(HostName.current))")
            }
            let certificate = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
                notValidBefore: now - 3600, notValidAfter: now + lifetime, issuer: name, subject: name,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                    Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                    SubjectKeyIdentifier(hash: publicKey)
                },
                issuerPrivateKey: Certificate.PrivateKey(key))
            return CertificateAuthority(certificate: certificate, key: key)
        } catch {
            throw CordonError(.internal, "cannot make cordon's CA certificate", cause: "\(error)")
        }
    }
}

/// The host's name for the CA's common name (so a user who finds it in a trust store knows
/// which machine's cordon made it).
enum HostName {
    static var current: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : String(name.prefix(64))
    }
}
