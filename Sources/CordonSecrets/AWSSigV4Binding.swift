public import CordonCore

extension AWSSigV4 {
    /// A sandbox's AWS credentials: the secrets bound with `inject: sigv4`, each told apart by the
    /// variable it is bound to (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`),
    /// with the placeholders the sandbox got for them. Names and placeholders only; the values are
    /// read by `credentials(reading:)` when the proxy needs them.
    public struct Binding: Sendable, Equatable {
        /// One `inject: sigv4` secret: its keystore entry, variable, placeholder and domains.
        public struct Entry: Sendable, Equatable {
            public var name: String
            public var env: String
            public var placeholder: String
            public var domains: [String]

            public init(name: String, env: String, placeholder: String, domains: [String]) {
                self.name = name
                self.env = env
                self.placeholder = placeholder
                self.domains = domains
            }
        }

        public var accessKeyID: Entry
        public var secretAccessKey: Entry
        public var sessionToken: Entry?

        /// From a sandbox's placeholders of the secrets bound with `inject: sigv4`.
        public init?(sigv4 placeholders: [Placeholder]) throws(CordonError) {
            try self.init(sigv4: placeholders.map { Entry(name: $0.secret, env: $0.env, placeholder: $0.placeholder, domains: $0.domains) })
        }

        /// From the secrets bound with `inject: sigv4` (none: nil). Refused unless each is bound
        /// to one of the three variables, none twice, the key id and the secret both present, all
        /// to the same domains.
        public init?(sigv4 entries: [Entry]) throws(CordonError) {
            guard !entries.isEmpty else { return nil }
            var byRole: [Role: Entry] = [:]
            for entry in entries {
                guard let role = Role(env: entry.env) else {
                    throw CordonError(
                        .invalidProfile,
                        "secrets: \"\(entry.name)\" has inject: sigv4 and env \(TerminalText.escaped(entry.env)), which is not an AWS credential's variable",
                        hint: "bind it as env: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_SESSION_TOKEN")
                }
                if let other = byRole[role] {
                    throw CordonError(
                        .invalidProfile, "secrets: \"\(other.name)\" and \"\(entry.name)\" are both bound to \(role.rawValue) with inject: sigv4",
                        hint: "bind one keystore entry per AWS credential")
                }
                byRole[role] = entry
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
                    "secrets: \"\(other.name)\" (inject: sigv4) is bound to other domains than \"\(keyID.name)\"; AWS credentials are re-signed together",
                    hint: "give the sigv4 secrets the same domains")
            }
            self.accessKeyID = keyID
            self.secretAccessKey = secret
            self.sessionToken = byRole[.sessionToken]
        }

        /// What `resign` checks the client's signature against.
        public var placeholders: (keyID: String, sessionToken: String?) { (accessKeyID.placeholder, sessionToken?.placeholder) }

        /// The real credentials, each entry read through `value` (a keystore's `value(_:)`, or the
        /// proxy's values held by name); an entry that is gone is an error naming it and the
        /// command that stores it.
        public func credentials(reading value: (SecretName) throws(CordonError) -> SecretBytes?) throws(CordonError) -> Credentials {
            func read(_ entry: Entry) throws(CordonError) -> SecretBytes {
                let name = try SecretName(entry.name)
                guard let bytes = try value(name) else {
                    throw CordonError(.notFound, "the keystore has no entry \"\(name)\" (bound with inject: sigv4)", hint: "cordon secrets set \(name)")
                }
                return bytes
            }
            let keyID = try read(accessKeyID)
            // A key id is letters and digits (checked by Credentials); anything else is not made a String.
            let ascii = keyID.withUnsafeBytes { $0.allSatisfy { $0 > 0x20 && $0 < 0x7F } }
            guard ascii, keyID.count <= 128 else {
                throw refusal(.invalidArgument, "the keystore entry \"\(accessKeyID.name)\" (AWS_ACCESS_KEY_ID) is not an access key id")
            }
            return try Credentials(
                accessKeyID: keyID.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }, secretAccessKey: try read(secretAccessKey),
                sessionToken: try sessionToken.map(read))
        }
    }
}
