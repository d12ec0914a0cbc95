import CordonCore
import CordonOS
@testable import CordonSecrets
import CordonTestSupport
import Foundation
import Glibc
import Testing

/// The keystore at rest: sealed values, the master key's file checks, tampering and swapping
/// detected and named, the passphrase mode.
@Suite struct KeystoreTests {
    // Assembled at run time so this file holds no literal that looks like a live key.
    static let value = "sk-test-" + "Qz8vLm2pR7tW4xK9sB3n"

    static func bytes(_ text: String) throws(CordonError) -> SecretBytes {
        let value = try SecretBytes(capacity: text.utf8.count)
        for byte in text.utf8 { try value.append(byte) }
        return value
    }

    static func text(_ value: SecretBytes?) -> String? {
        value.map { $0.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }
    }

    /// A cheap KDF for tests (the cost is a parameter of the store; the algorithm is the same).
    static let cheap = PassphraseKDF.fresh(iterations: 1, memoryKiB: 1024)

    func store(_ tree: TempTree) -> Keystore { Keystore(paths: KeystorePaths(directory: tree.path("secrets"))) }

    func seeded(_ tree: TempTree, passphrase: String? = nil) throws -> Keystore {
        let keystore = store(tree)
        let phrase = try passphrase.map(Self.bytes)
        try keystore.withLock { () throws(CordonError) in
            let unlocked = try keystore.create(passphrase: phrase, kdf: Self.cheap)
            try unlocked.set(SecretName("OPENAI"), try Self.bytes(Self.value))
            try unlocked.set(SecretName("OTHER"), try Self.bytes("other-" + "value-4xK9sB3nQz8"))
            try unlocked.save()
        }
        return keystore
    }

    static func noPassphrase() throws(CordonError) -> SecretBytes { throw CordonError(.internal, "asked for a passphrase") }

    @Test func aValueRoundTripsAndTheFileHoldsNoPlaintext() throws {
        let tree = try TempTree()
        let keystore = try seeded(tree)
        let reopened = try keystore.unlock(passphrase: Self.noPassphrase)
        #expect(Self.text(try reopened.value(SecretName("OPENAI"))) == Self.value)
        #expect(try reopened.value(SecretName("MISSING")) == nil)
        let file = try #require(tree.read("secrets/keystore.json"))
        #expect(!file.contains(Self.value) && !file.contains("Qz8vLm2pR7tW4xK9sB3n"))
        #expect(file.contains("\"OPENAI\""))
        #expect(tree.mode("secrets/keystore.json") & 0o777 == 0o600)
        #expect(tree.mode("secrets/master.key") & 0o777 == 0o600)
        #expect(tree.mode("secrets") & 0o777 == 0o700)
        // The key file is the 32 bytes it should be and is not the value's bytes either.
        #expect(try FileIO.readFile(tree.path("secrets/master.key")).count == 32)
    }

    /// Rewrites the store's JSON through `edit` (as an attacker with write access would).
    func tamper(_ tree: TempTree, _ edit: (inout [[String: Any]]) throws -> Void) throws {
        let path = tree.path("secrets/keystore.json")
        var document = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        var entries = try #require(document["entries"] as? [[String: Any]])
        try edit(&entries)
        document["entries"] = entries
        try JSONSerialization.data(withJSONObject: document).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o600)
    }

    @Test func aChangedCiphertextByteIsRefusedNamingTheEntry() throws {
        let tree = try TempTree()
        let keystore = try seeded(tree)
        try tamper(tree) { entries in
            let index = try #require(entries.firstIndex { $0["name"] as? String == "OPENAI" })
            let text = try #require(entries[index]["sealed"] as? String)
            var sealed = try #require(Data(base64Encoded: text))
            sealed[sealed.count - 20] ^= 0x01
            entries[index]["sealed"] = sealed.base64EncodedString()
        }
        let unlocked = try keystore.unlock(passphrase: Self.noPassphrase)
        let error = try #require(throws: CordonError.self) { try unlocked.value(SecretName("OPENAI")) }
        #expect(error.message.contains("entry \"OPENAI\" does not authenticate"), "\(error)")
        #expect(!error.description.contains(Self.value))
        // The entry beside it still opens.
        #expect(try unlocked.value(SecretName("OTHER")) != nil)
    }

    @Test func swappedCiphertextsAreRefusedNamingTheEntry() throws {
        let tree = try TempTree()
        let keystore = try seeded(tree)
        try tamper(tree) { entries in
            let a = entries[0]["sealed"], b = entries[1]["sealed"]
            entries[0]["sealed"] = b
            entries[1]["sealed"] = a
        }
        let unlocked = try keystore.unlock(passphrase: Self.noPassphrase)
        for name in ["OPENAI", "OTHER"] {
            let error = try #require(throws: CordonError.self) { try unlocked.value(SecretName(name)) }
            #expect(error.message.contains("entry \"\(name)\" does not authenticate"), "\(error)")
        }
    }

    @Test func aMasterKeyOthersCanReadIsRefused() throws {
        let tree = try TempTree()
        let keystore = try seeded(tree)
        chmod(tree.path("secrets/master.key"), 0o644)
        let error = try #require(throws: CordonError.self) { try keystore.unlock(passphrase: Self.noPassphrase) }
        #expect(error.code == .policyDenied)
        #expect(error.message.contains(tree.path("secrets/master.key")) && error.message.contains("0644"), "\(error)")
        #expect(error.hint?.contains("chmod 600 \(tree.path("secrets/master.key"))") == true, "\(error)")
    }

    @Test func aMasterKeyReachedThroughASymlinkIsRefused() throws {
        let tree = try TempTree()
        let keystore = try seeded(tree)
        #expect(rename(tree.path("secrets/master.key"), tree.path("elsewhere.key")) == 0)
        tree.symlink("secrets/master.key", to: tree.path("elsewhere.key"))
        let error = try #require(throws: CordonError.self) { try keystore.unlock(passphrase: Self.noPassphrase) }
        #expect(error.message.contains("symbolic link"), "\(error)")
    }

    @Test func anotherMasterKeyIsRefusedAsNotTheStoresKey() throws {
        let tree = try TempTree()
        let keystore = try seeded(tree)
        #expect(unlink(tree.path("secrets/master.key")) == 0)
        _ = try MasterKey.create(tree.path("secrets/master.key"))
        let error = try #require(throws: CordonError.self) { try keystore.unlock(passphrase: Self.noPassphrase) }
        #expect(error.message.contains("does not open the keystore"), "\(error)")
    }

    @Test func aStoreOthersCanReadIsRefused() throws {
        let tree = try TempTree()
        let keystore = try seeded(tree)
        chmod(tree.path("secrets/keystore.json"), 0o640)
        let error = try #require(throws: CordonError.self) { try keystore.metadata() }
        #expect(error.message.contains("keystore.json") && error.hint?.contains("chmod 600") == true, "\(error)")
    }

    @Test func aDamagedStoreIsAClearError() throws {
        let tree = try TempTree()
        let keystore = try seeded(tree)
        tree.write("secrets/keystore.json", "{\"format\": \"cordon-keystore\", \"entr", mode: 0o600)
        let error = try #require(throws: CordonError.self) { try keystore.metadata() }
        #expect(error.message.contains("is damaged"), "\(error)")
    }

    @Test func thePassphraseModeRoundTripsAndRefusesAWrongPassphrase() throws {
        let tree = try TempTree()
        let keystore = try seeded(tree, passphrase: "correct horse battery staple")
        #expect(!tree.exists("secrets/master.key"))
        let file = try #require(tree.read("secrets/keystore.json"))
        #expect(file.contains("argon2id") && !file.contains(Self.value))
        let right = try keystore.unlock { () throws(CordonError) in try Self.bytes("correct horse battery staple") }
        #expect(Self.text(try right.value(SecretName("OPENAI"))) == Self.value)
        let error = try #require(throws: CordonError.self) {
            try keystore.unlock { () throws(CordonError) in try Self.bytes("correct horse battery stapler") }
        }
        #expect(error.message.contains("wrong passphrase"), "\(error)")
    }

    @Test func argon2idMatchesTheReferenceVector() throws {
        // RFC 9106-style check against the reference library through our parameters: the same
        // inputs give the same key, and another salt another key.
        let kdf = PassphraseKDF(algorithm: "argon2id", salt: Data(repeating: 2, count: 16).base64EncodedString(), iterations: 1, memoryKiB: 64, parallelism: 1)
        let a = try kdf.derive(try Self.bytes("password"), storePath: "test")
        let b = try kdf.derive(try Self.bytes("password"), storePath: "test")
        var other = kdf
        other.salt = Data(repeating: 3, count: 16).base64EncodedString()
        let c = try other.derive(try Self.bytes("password"), storePath: "test")
        #expect(a.count == 32 && a.matches(b) && !a.matches(c))
    }

    @Test func aClassicGitHubTokenIsRefusedUnlessAllowed() throws {
        let token = try Self.bytes("ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5")
        let error = try #require(throws: CordonError.self) { try SecretValuePolicy.check(token, name: SecretName("GH"), allowClassic: false) }
        #expect(error.message.contains("classic") && error.hint?.contains("--allow-classic") == true)
        #expect(!error.description.contains("aB3dE5fG7hJ9"))
        try SecretValuePolicy.check(token, name: SecretName("GH"), allowClassic: true)
        try SecretValuePolicy.check(try Self.bytes("github_pat_" + "11ABCDEFG0123456789"), name: SecretName("GH"), allowClassic: false)
        #expect(throws: CordonError.self) { try SecretValuePolicy.check(try SecretBytes(), name: SecretName("GH"), allowClassic: true) }
    }
}
