import CordonCore
import CordonSecrets
import Testing

/// Which `inject: sigv4` secret is which AWS credential, told by its variable, and the real
/// values read for the proxy.
@Suite struct AWSSigV4BindingTests {
    static let domains = ["*.amazonaws.com"]

    static func placeholder(_ secret: String, _ env: String, domains: [String] = domains) -> Placeholder {
        Placeholder(secret: secret, env: env, domains: domains)
    }

    static func secret(_ text: String) throws -> SecretBytes {
        try Array(text.utf8).withUnsafeBytes { buffer throws(CordonError) in try SecretBytes(copying: buffer) }
    }

    static let values = ["aws-id": "AKIDEXAMPLE", "aws-secret": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "aws-token": "FwoGZXIvYXdzEJr=="]

    static func lookup(_ name: SecretName) throws(CordonError) -> SecretBytes? {
        guard let text = values[name.text] else { return nil }
        let value = try SecretBytes()
        for byte in text.utf8 { try value.append(byte) }
        return value
    }

    @Test func theRolesComeFromTheVariablesAndTheValuesFromTheStore() throws {
        let id = Self.placeholder("aws-id", "AWS_ACCESS_KEY_ID")
        let secret = Self.placeholder("aws-secret", "AWS_SECRET_ACCESS_KEY")
        let token = Self.placeholder("aws-token", "AWS_SESSION_TOKEN")
        #expect(try AWSSigV4.Binding(sigv4: [Placeholder]()) == nil)
        let binding = try #require(try AWSSigV4.Binding(sigv4: [token, secret, id]))
        #expect(binding.accessKeyID == AWSSigV4.Binding.Entry(name: "aws-id", env: "AWS_ACCESS_KEY_ID", placeholder: id.placeholder, domains: Self.domains))
        #expect(binding.secretAccessKey.placeholder == secret.placeholder && binding.sessionToken?.placeholder == token.placeholder)
        #expect(binding.placeholders.keyID == id.placeholder && binding.placeholders.sessionToken == token.placeholder)
        let credentials = try binding.credentials(reading: Self.lookup)
        #expect(credentials.accessKeyID == "AKIDEXAMPLE")
        // Without a session token: two bindings do.
        let twoBindings = try #require(try AWSSigV4.Binding(sigv4: [id, secret]))
        #expect(twoBindings.sessionToken == nil && twoBindings.placeholders.sessionToken == nil)
    }

    @Test func bindingsThatDoNotMakeOneSetOfCredentialsAreRefused() {
        let id = Self.placeholder("aws-id", "AWS_ACCESS_KEY_ID")
        let secret = Self.placeholder("aws-secret", "AWS_SECRET_ACCESS_KEY")
        let cases: [(String, [Placeholder], String)] = [
            ("another variable", [id, secret, Self.placeholder("x", "AWS_KEY")], "not an AWS credential's variable"),
            ("a role twice", [id, secret, Self.placeholder("aws-id2", "AWS_ACCESS_KEY_ID")], "are both bound to AWS_ACCESS_KEY_ID"),
            ("no secret", [id], "AWS_SECRET_ACCESS_KEY is not bound"),
            ("no key id", [secret, Self.placeholder("aws-token", "AWS_SESSION_TOKEN")], "AWS_ACCESS_KEY_ID is not bound"),
            ("other domains", [id, Self.placeholder("aws-secret", "AWS_SECRET_ACCESS_KEY", domains: ["attacker.example"])], "other domains"),
        ]
        for (what, placeholders, message) in cases {
            do {
                _ = try AWSSigV4.Binding(sigv4: placeholders)
                Issue.record("\(what): taken")
            } catch {
                #expect(error.code == .invalidProfile && error.message.contains(message), "\(what): \(error)")
            }
        }
    }

    @Test func aMissingOrMalformedEntryIsNamedNeverShown() throws {
        let binding = try #require(
            try AWSSigV4.Binding(sigv4: [Self.placeholder("aws-id", "AWS_ACCESS_KEY_ID"), Self.placeholder("gone", "AWS_SECRET_ACCESS_KEY")]))
        #expect(throws: CordonError.self) { try binding.credentials(reading: Self.lookup) }
        do { _ = try binding.credentials(reading: Self.lookup) } catch {
            #expect(error.code == .notFound && error.hint == "cordon secrets set gone", "\(error)")
        }
        // A key id entry holding something else (a secret key pasted into the wrong entry).
        let swapped = try #require(
            try AWSSigV4.Binding(sigv4: [Self.placeholder("aws-secret", "AWS_ACCESS_KEY_ID"), Self.placeholder("aws-id", "AWS_SECRET_ACCESS_KEY")]))
        do {
            _ = try swapped.credentials(reading: Self.lookup)
            Issue.record("a secret key was taken as a key id")
        } catch {
            #expect(!"\(error)".contains("wJalrXUtnFEMI"), "\(error)")
        }
    }
}
