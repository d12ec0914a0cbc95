import CArgon2
public import CordonCore
import FoundationEssentials

/// The passphrase mode's key derivation: Argon2id (memory-hard), from the reference library.
/// The salt and costs are stored in the store's header, so a store keeps the costs it was made
/// with when the defaults change.
public struct PassphraseKDF: Sendable, Equatable, Codable {
    public var algorithm: String
    /// 16 random bytes, base64.
    public var salt: String
    /// Passes over memory (Argon2's t_cost).
    public var iterations: UInt32
    /// KiB of memory (Argon2's m_cost).
    public var memoryKiB: UInt32
    public var parallelism: UInt32

    public static let argon2id = "argon2id"
    /// RFC 9106's second recommended option: 64 MiB, 3 passes, one lane.
    public static let defaultIterations: UInt32 = 3
    public static let defaultMemoryKiB: UInt32 = 64 * 1024

    /// New parameters with a fresh random salt.
    public static func fresh(iterations: UInt32 = defaultIterations, memoryKiB: UInt32 = defaultMemoryKiB) -> PassphraseKDF {
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return PassphraseKDF(algorithm: argon2id, salt: Data(salt).base64EncodedString(), iterations: iterations, memoryKiB: memoryKiB, parallelism: 1)
    }

    /// The 32-byte key `passphrase` derives under these parameters.
    public func derive(_ passphrase: SecretBytes, storePath: String) throws(CordonError) -> SecretBytes {
        guard algorithm == Self.argon2id, let saltBytes = Data(base64Encoded: salt), saltBytes.count >= 8,
            iterations >= 1, iterations <= 64, memoryKiB >= 8, memoryKiB <= 4 * 1024 * 1024, parallelism >= 1, parallelism <= 16
        else {
            throw CordonError(
                .policyDenied, "\(storePath): the passphrase KDF parameters in the header are not ones cordon writes",
                hint: "restore the store from a backup")
        }
        let key = try SecretBytes(capacity: MasterKey.length)
        for _ in 0..<MasterKey.length { try key.append(0) }
        let status = passphrase.withUnsafeBytes { secret in
            saltBytes.withUnsafeBytes { saltBuffer in
                key.withMutableBytes { out in
                    argon2id_hash_raw(
                        iterations, memoryKiB, parallelism, secret.baseAddress, secret.count, saltBuffer.baseAddress, saltBuffer.count,
                        out.baseAddress, out.count)
                }
            }
        }
        guard status == ARGON2_OK.rawValue else {
            let reason = argon2_error_message(status).map { String(cString: $0) } ?? "error \(status)"
            throw CordonError(.internal, "cannot derive the keystore key from the passphrase", cause: reason)
        }
        return key
    }
}
