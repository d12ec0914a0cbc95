public import CordonCore

/// What a sandbox start does with the profile's `secrets:`: checks that the keystore is readable
/// and holds every bound entry (fail closed: a missing one stops the start with the command that
/// stores it), and makes a fresh placeholder for each. No value is read: the placeholder is all
/// the sandbox gets.
public enum SandboxSecrets {
    /// One `secrets:` entry of the profile.
    public struct Binding: Sendable, Equatable {
        public var name: String
        /// The variable inside; nil: the secret's name.
        public var env: String?
        public var domains: [String]

        public init(name: String, env: String?, domains: [String]) {
            self.name = name
            self.env = env
            self.domains = domains
        }
    }

    public static func placeholders(for bindings: [Binding], keystore: Keystore) throws(CordonError) -> [Placeholder] {
        guard !bindings.isEmpty else { return [] }
        let file: KeystoreFile?
        do { file = try keystore.metadata() } catch {
            var refused = error
            refused.message = "the profile binds secrets, and the keystore cannot be read: " + error.message
            throw refused
        }
        let missing = bindings.filter { file?.entry($0.name) == nil }.map(\.name)
        if !missing.isEmpty {
            let commands = missing.map { "cordon secrets set \($0)" }.joined(separator: "; ")
            throw CordonError(
                .invalidProfile,
                "the profile binds \(missing.count == 1 ? "secret" : "secrets") \(missing.joined(separator: ", ")) that the keystore (\(keystore.paths.store)) lacks; the sandbox was not started",
                hint: "store \(missing.count == 1 ? "it" : "them") first: \(commands)")
        }
        if let file, file.key.source == KeystoreFile.KeySource.masterKey {
            // The key the proxy will need is checked now (its file's owner and mode, that it opens
            // this store): a broken keystore stops the start rather than a later request.
            _ = try keystore.key(for: file) { () throws(CordonError) in throw CordonError(.internal, "a master-key store asked for a passphrase") }
        }
        return bindings.map { Placeholder(secret: $0.name, env: $0.env ?? $0.name, domains: $0.domains) }
    }
}
