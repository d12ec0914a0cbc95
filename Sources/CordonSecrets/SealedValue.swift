import CordonCore
import Crypto
import FoundationEssentials

/// One value sealed with ChaCha20-Poly1305 under the keystore key: a fresh random nonce per
/// seal, and the entry's name bound as associated data, so a ciphertext moved to another entry
/// (or a byte changed) fails to open instead of yielding another secret.
public enum SealedValue {
    public static let cipher = "chacha20-poly1305"
    private static let context = "cordon-keystore/v1/"

    /// The associated data binding a sealed value to its entry (`entry/NAME`) or to the check.
    static func binding(_ label: String) -> [UInt8] { Array((context + label).utf8) }
    static let checkLabel = "check"
    static func entryLabel(_ name: SecretName) -> String { "entry/" + name.text }

    /// `value` sealed under `key` for `label`, as base64 (nonce ‖ ciphertext ‖ tag).
    static func seal(_ value: SecretBytes, key: SecretBytes, label: String) throws(CordonError) -> String {
        do {
            let box = try value.withUnsafeBytes { plain in
                try key.withUnsafeBytes { keyBytes in
                    try ChaChaPoly.seal(plain, using: SymmetricKey(data: keyBytes), nonce: ChaChaPoly.Nonce(), authenticating: binding(label))
                }
            }
            return box.combined.base64EncodedString()
        } catch {
            throw CordonError(.internal, "cannot seal a keystore value", cause: "\(error)")
        }
    }

    /// The value sealed in `text` for `label`, or nil when it fails to authenticate (another key,
    /// another entry's ciphertext, a changed byte). Throws only for text that is not base64.
    static func open(_ text: String, key: SecretBytes, label: String) throws(CordonError) -> SecretBytes? {
        guard let combined = Data(base64Encoded: text), let box = try? ChaChaPoly.SealedBox(combined: combined) else { return nil }
        guard
            var plain = try? key.withUnsafeBytes({ keyBytes in
                try ChaChaPoly.open(box, using: SymmetricKey(data: keyBytes), authenticating: binding(label))
            })
        else { return nil }
        defer { plain.resetBytes(in: 0..<plain.count) }
        let value = try SecretBytes(capacity: plain.count)
        for byte in plain { try value.append(byte) }
        return value
    }
}
