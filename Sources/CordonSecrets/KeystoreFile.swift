public import CordonCore
import CordonOS
import FoundationEssentials
import Glibc

/// The store file as written: JSON, 0600, replaced whole (temporary file, fsync, rename) so it
/// is never half-written. Names and times are in the clear; each value is sealed on its own
/// (`SealedValue`), so the file holds no value's bytes.
///
/// ```json
/// {"format": "cordon-keystore", "version": 1, "cipher": "chacha20-poly1305",
///  "key": {"source": "master_key"}  or  {"source": "passphrase", "kdf": {…}},
///  "check": "<base64>", "entries": [{"name", "created", "updated", "sealed"}]}
/// ```
public struct KeystoreFile: Sendable, Equatable, Codable {
    public struct KeySource: Sendable, Equatable, Codable {
        /// `master_key` (the random key file beside the store) or `passphrase`.
        public var source: String
        /// The passphrase's KDF and its parameters; nil in master-key mode.
        public var kdf: PassphraseKDF?

        public static let masterKey = "master_key"
        public static let passphrase = "passphrase"
    }

    public struct Entry: Sendable, Equatable, Codable {
        public var name: String
        /// RFC 3339, UTC.
        public var created: String
        public var updated: String
        /// base64 of nonce ‖ ciphertext ‖ tag, the entry's name bound as associated data.
        public var sealed: String
    }

    public var format: String
    public var version: Int
    public var cipher: String
    public var key: KeySource
    /// An empty value sealed under the key: tells a wrong key or passphrase from a damaged entry.
    public var check: String
    public var entries: [Entry]

    public static let formatName = "cordon-keystore"
    public static let currentVersion = 1

    public init(key: KeySource, check: String, entries: [Entry] = []) {
        format = Self.formatName
        version = Self.currentVersion
        cipher = SealedValue.cipher
        self.key = key
        self.check = check
        self.entries = entries
    }

    public func entry(_ name: String) -> Entry? { entries.first { $0.name == name } }

    /// The store at `path`, nil when there is none. Refuses a file with the wrong owner or
    /// mode, or one that does not parse as a store this cordon reads.
    public static func read(_ path: String) throws(CordonError) -> KeystoreFile? {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)
        } catch {
            if error.errno == ENOENT { return nil }
            throw error.cordonError(.io, "cannot open the keystore \(path)", hint: Self.fix(path))
        }
        let info: stat
        do { info = try fd.status(path) } catch { throw error.cordonError(.io, "cannot inspect the keystore \(path)") }
        try MasterKey.checkOwnership(info, path: path, what: "the keystore")
        let bytes: [UInt8]
        do { bytes = try fd.readAll(limit: 16 * 1024 * 1024) } catch { throw error.cordonError(.io, "cannot read the keystore \(path)") }
        let file: KeystoreFile
        do {
            file = try JSONDecoder.keystore.decode(KeystoreFile.self, from: Data(bytes))
        } catch {
            throw CordonError(.io, "the keystore \(path) is damaged: it does not parse", hint: Self.fix(path), cause: "\(error)")
        }
        guard file.format == formatName, file.version == currentVersion, file.cipher == SealedValue.cipher else {
            throw CordonError(
                .unsupported, "the keystore \(path) is format \(file.format) version \(file.version) (\(file.cipher)); this cordon reads version 1",
                hint: "use the cordon that wrote it")
        }
        guard [KeySource.masterKey, KeySource.passphrase].contains(file.key.source), (file.key.source == KeySource.passphrase) == (file.key.kdf != nil)
        else {
            throw CordonError(.io, "the keystore \(path) is damaged: its key source \"\(file.key.source)\" is not one cordon writes", hint: Self.fix(path))
        }
        var seen: Set<String> = []
        for entry in file.entries {
            guard SecretName.isValid(entry.name), seen.insert(entry.name).inserted else {
                throw CordonError(
                    .io, "the keystore \(path) is damaged: entry \"\(TerminalText.escaped(entry.name))\" is not a valid or unique name", hint: Self.fix(path))
            }
        }
        return file
    }

    /// Writes the store to `path` whole: a 0600 temporary file, fsync, rename, directory fsync.
    public func write(_ path: String) throws(CordonError) {
        let bytes: [UInt8]
        do { bytes = Array(try JSONEncoder.keystore.encode(self)) + [0x0A] } catch {
            throw CordonError(.internal, "cannot encode the keystore", cause: "\(error)")
        }
        do { try FileIO.writeAtomically(path, bytes, mode: 0o600) } catch { throw error.cordonError(.io, "cannot write the keystore \(path)") }
        // The rename itself made durable: a crash after the command returns keeps the new store.
        if let slash = path.lastIndex(of: "/") { try? FileIO.syncFile(String(path[..<slash])) }
    }

    static func fix(_ path: String) -> String {
        "restore \(path) from a backup, or move it away and set the secrets again (cordon secrets set NAME)"
    }
}

extension JSONEncoder {
    static var keystore: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return encoder
    }
}

extension JSONDecoder {
    static var keystore: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }
}
