public import CordonCore

extension AWSSigV4 {
    /// A sandbox's AWS credentials: the secrets bound with `inject: sigv4`, each told apart by the
    /// variable it is bound to (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`),
    /// with the placeholders the sandbox got for them. Names and placeholders only; the values are
    /// read from the keystore by `credentials(reading:)` when the proxy needs them.
    public struct Binding: Sendable, Equatable {
        public var accessKeyID: Placeholder
        public var secretAccessKey: Placeholder
        public var sessionToken: Placeholder?

        /// From the placeholders of the secrets bound with `inject: sigv4` (none: nil). Refused
        /// unless each is bound to one of the three variables, none twice, the key id and the
        /// secret both present, all to the same domains.
        public init?(sigv4 placeholders: [Placeholder]) throws(CordonError) {
            guard !placeholders.isEmpty else { return nil }
            var byRole: [Role: Placeholder] = [:]
            for placeholder in placeholders {
                guard let role = Role(env: placeholder.env) else {
                    throw CordonError(
                        .invalidProfile,
                        "secrets: \"\(placeholder.secret)\" has inject: sigv4 and env \(TerminalText.escaped(placeholder.env)), which is not an AWS credential's variable",
                        hint: "bind it as env: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_SESSION_TOKEN")
                }
                if let other = byRole[role] {
                    throw CordonError(
                        .invalidProfile, "secrets: \"\(other.secret)\" and \"\(placeholder.secret)\" are both bound to \(role.rawValue) with inject: sigv4",
                        hint: "bind one keystore entry per AWS credential")
                }
                byRole[role] = placeholder
            }
            guard let keyID = byRole[.accessKeyID], let secret = byRole[.secretAccessKey] else {
                let missing = byRole[.accessKeyID] == nil ? Role.accessKeyID : Role.secretAccessKey
                throw CordonError(
                    .invalidProfile, "secrets: inject: sigv4 needs both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and \(missing.rawValue) is not bound",
                    hint: "add {name: ENTRY, env: \(missing.rawValue), domains: [...], inject: sigv4} to secrets:")
            }
            let sameDomains = Set(keyID.domains)
            if let other = byRole.values.first(where: { Set($0.domains) != sameDomains }) {
                throw CordonError(
                    .invalidProfile,
                    "secrets: \"\(other.secret)\" (inject: sigv4) is bound to other domains than \"\(keyID.secret)\"; AWS credentials are re-signed together",
                    hint: "give the sigv4 secrets the same domains")
            }
            self.accessKeyID = keyID
            self.secretAccessKey = secret
            self.sessionToken = byRole[.sessionToken]
        }

        /// What `resign` checks the client's signature against.
        public var placeholders: (keyID: String, sessionToken: String?) { (accessKeyID.placeholder, sessionToken?.placeholder) }

        /// The real credentials, each entry read through `value` (a keystore's `value(_:)`); an
        /// entry that is gone is an error naming it and the command that stores it.
        public func credentials(reading value: (SecretName) throws(CordonError) -> SecretBytes?) throws(CordonError) -> Credentials {
            func read(_ placeholder: Placeholder) throws(CordonError) -> SecretBytes {
                let name = try SecretName(placeholder.secret)
                guard let bytes = try value(name) else {
                    throw CordonError(.notFound, "the keystore has no entry \"\(name)\" (bound with inject: sigv4)", hint: "cordon secrets set \(name)")
                }
                return bytes
            }
            let keyID = try read(accessKeyID)
            // A key id is letters and digits (checked by Credentials); anything else is not made a String.
            let ascii = keyID.withUnsafeBytes { $0.allSatisfy { $0 > 0x20 && $0 < 0x7F } }
            guard ascii, keyID.count <= 128 else {
                throw refusal(.invalidArgument, "the keystore entry \"\(accessKeyID.secret)\" (AWS_ACCESS_KEY_ID) is not an access key id")
            }
            return try Credentials(
                accessKeyID: keyID.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }, secretAccessKey: try read(secretAccessKey),
                sessionToken: try sessionToken.map(read))
        }
    }
}
