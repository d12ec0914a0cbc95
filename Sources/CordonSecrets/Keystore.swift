public import CordonCore
import CordonOS
import Glibc

/// The keystore at `paths`: reading its metadata (no key needed), unlocking it with the master
/// key file or a passphrase, and editing it under a lock so two commands never lose a change.
public struct Keystore: Sendable {
    public let paths: KeystorePaths

    public init(paths: KeystorePaths) { self.paths = paths }

    /// Asks for the passphrase (a prompt without echo, or a descriptor); called only when the
    /// store is in passphrase mode.
    public typealias PassphraseSource = () throws(CordonError) -> SecretBytes

    /// The store's header and entries (names, times, sealed values); nil when none exists yet.
    public func metadata() throws(CordonError) -> KeystoreFile? {
        try KeystoreFile.read(paths.store)
    }

    /// Runs `body` holding the keystore's lock (created with the 0700 directory when missing).
    public func withLock<R>(_ body: () throws(CordonError) -> R) throws(CordonError) -> R {
        try prepareDirectory()
        let lock: FileLock
        do { lock = try FileLock.acquire(paths.directory + "/.lock") } catch { throw error.cordonError(.io, "cannot lock the keystore in \(paths.directory)") }
        // Consumed on both paths: held until `body` is done, whatever the optimizer does with lifetimes.
        let result: R
        do { result = try body() } catch {
            _ = consume lock
            throw error
        }
        _ = consume lock
        return result
    }

    /// A new store: in passphrase mode when `passphrase` is given, else under the master key
    /// file (created when missing). Refuses to replace a store that exists. Call under `withLock`.
    public func create(passphrase: SecretBytes?, kdf: PassphraseKDF = .fresh()) throws(CordonError) -> Unlocked {
        if try metadata() != nil {
            throw CordonError(
                .alreadyExists, "the keystore \(paths.store) already exists",
                hint: "keep it, or move it away first (its values are lost unless you keep it with its key)")
        }
        let key: SecretBytes
        let source: KeystoreFile.KeySource
        if let passphrase {
            guard !passphrase.isEmpty else { throw CordonError(.invalidArgument, "the passphrase is empty", hint: "choose a long passphrase") }
            key = try kdf.derive(passphrase, storePath: paths.store)
            source = .init(source: KeystoreFile.KeySource.passphrase, kdf: kdf)
        } else {
            key = FileIO.kind(paths.masterKey, followSymlinks: false) == .missing ? try MasterKey.create(paths.masterKey) : try MasterKey.load(paths.masterKey)
            source = .init(source: KeystoreFile.KeySource.masterKey, kdf: nil)
        }
        let check = try SealedValue.seal(try SecretBytes(capacity: 1), key: key, label: SealedValue.checkLabel)
        let unlocked = Unlocked(paths: paths, file: KeystoreFile(key: source, check: check), key: key)
        try unlocked.save()
        return unlocked
    }

    /// The store unlocked: its key loaded or derived and checked against the store's check value.
    public func unlock(passphrase: PassphraseSource) throws(CordonError) -> Unlocked {
        guard let file = try metadata() else {
            throw CordonError(.notFound, "there is no keystore at \(paths.store)", hint: "store a secret first: cordon secrets set NAME")
        }
        let key = try self.key(for: file, passphrase: passphrase)
        return Unlocked(paths: paths, file: file, key: key)
    }

    /// The key `file` is sealed with, checked. A wrong passphrase or key is refused here.
    public func key(for file: KeystoreFile, passphrase: PassphraseSource) throws(CordonError) -> SecretBytes {
        let key: SecretBytes
        if let kdf = file.key.kdf {
            key = try kdf.derive(try passphrase(), storePath: paths.store)
            guard try SealedValue.open(file.check, key: key, label: SealedValue.checkLabel) != nil else {
                throw CordonError(
                    .policyDenied, "wrong passphrase for the keystore \(paths.store)", hint: "run the command again with the passphrase the store was made with"
                )
            }
        } else {
            key = try MasterKey.load(paths.masterKey)
            guard try SealedValue.open(file.check, key: key, label: SealedValue.checkLabel) != nil else {
                throw CordonError(
                    .policyDenied, "the master key \(paths.masterKey) does not open the keystore \(paths.store): it is not the key the store was sealed with",
                    hint: "restore the master key that belongs to this store from a backup")
            }
        }
        return key
    }

    private func prepareDirectory() throws(CordonError) {
        do { try FileIO.makeDirectories(paths.directory, mode: 0o700) } catch {
            throw error.cordonError(.io, "cannot create the keystore directory \(paths.directory)")
        }
        var info = stat()
        guard lstat(paths.directory, &info) == 0 else {
            throw SystemError.current("inspect", paths.directory).cordonError(.io)
        }
        guard info.st_mode & S_IFMT == S_IFDIR, info.st_uid == geteuid(), info.st_mode & 0o022 == 0 else {
            throw CordonError(
                .policyDenied, "the keystore directory \(paths.directory) is not a directory of yours that only you can write to",
                hint: "chmod 700 \(paths.directory) (and chown it to you), or remove it if it is not cordon's")
        }
    }

    /// An unlocked store: its entries and the key they are sealed with (held in memory kept out
    /// of core dumps, zeroed when dropped).
    public final class Unlocked {
        public let paths: KeystorePaths
        public private(set) var file: KeystoreFile
        private let key: SecretBytes

        init(paths: KeystorePaths, file: KeystoreFile, key: SecretBytes) {
            self.paths = paths
            self.file = file
            self.key = key
        }

        /// The value of entry `name`; a value that fails to authenticate is an error naming it.
        public func value(_ name: SecretName) throws(CordonError) -> SecretBytes? {
            guard let entry = file.entry(name.text) else { return nil }
            guard let value = try SealedValue.open(entry.sealed, key: key, label: SealedValue.entryLabel(name)) else {
                throw CordonError(
                    .policyDenied,
                    "the keystore \(paths.store): entry \"\(name)\" does not authenticate (its sealed value was changed, or moved from another entry)",
                    hint: "set it again: cordon secrets set \(name) (and find out who changed the store)")
            }
            return value
        }

        /// Stores `value` under `name` (replacing one there, keeping its creation time).
        public func set(_ name: SecretName, _ value: SecretBytes, now: String = WallClock.rfc3339()) throws(CordonError) {
            let sealed = try SealedValue.seal(value, key: key, label: SealedValue.entryLabel(name))
            if let index = file.entries.firstIndex(where: { $0.name == name.text }) {
                file.entries[index].sealed = sealed
                file.entries[index].updated = now
            } else {
                file.entries.append(.init(name: name.text, created: now, updated: now, sealed: sealed))
                file.entries.sort { $0.name < $1.name }
            }
        }

        /// Removes entry `name`; false when there was none.
        @discardableResult
        public func remove(_ name: SecretName) -> Bool {
            guard let index = file.entries.firstIndex(where: { $0.name == name.text }) else { return false }
            file.entries.remove(at: index)
            return true
        }

        /// Writes the store whole (temporary file, fsync, rename, directory fsync).
        public func save() throws(CordonError) {
            try file.write(paths.store)
        }
    }
}
