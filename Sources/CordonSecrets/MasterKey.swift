public import CordonCore
import CordonOS
import Glibc

/// The keystore's random master key: 32 bytes in a 0600 file owned by the user, created
/// atomically (a temporary file, then link(2), which never replaces an existing key) and refused
/// when its type, owner, mode or size is wrong.
public enum MasterKey {
    public static let length = 32

    /// The key at `path`, read into memory kept out of core dumps.
    public static func load(_ path: String) throws(CordonError) -> SecretBytes {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)
        } catch {
            if error.errno == ENOENT {
                throw CordonError(
                    .notFound, "the keystore's master key \(path) is missing",
                    hint: "restore it from a backup; without it the stored values cannot be read (or remove the keystore and set the secrets again)")
            }
            if error.errno == ELOOP {
                throw CordonError(
                    .policyDenied, "the keystore's master key \(path) is a symbolic link", hint: "replace it with the key file itself (mode 0600)")
            }
            throw error.cordonError(.io, "cannot open the keystore's master key \(path)")
        }
        let info: stat
        do { info = try fd.status(path) } catch { throw error.cordonError(.io, "cannot inspect the keystore's master key \(path)") }
        try checkOwnership(info, path: path, what: "the keystore's master key")
        guard Int(info.st_size) == length else {
            throw CordonError(
                .policyDenied, "the keystore's master key \(path) holds \(info.st_size) bytes, not \(length)",
                hint: "restore the key from a backup; it is not a file cordon wrote")
        }
        let key = try SecretBytes.readAll(from: fd.raw, what: "the keystore's master key")
        guard key.count == length else { throw CordonError(.io, "the keystore's master key \(path) changed size while it was read") }
        return key
    }

    /// A new random key at `path` (0600, never replacing one that exists), and the key.
    public static func create(_ path: String) throws(CordonError) -> SecretBytes {
        let key = try SecretBytes(capacity: length)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<length { try key.append(UInt8.random(in: 0...255, using: &generator)) }
        let temporary = path + ".new-" + String(UInt64.random(in: 0...UInt64.max, using: &generator), radix: 16)
        do {
            let fd = try FileDescriptor.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode: 0o600)
            defer { unlink(temporary) }
            try key.write(to: fd.raw, what: "the new master key")
            guard fsync(fd.raw) == 0 else { throw SystemError.current("fsync", temporary) }
            guard link(temporary, path) == 0 else { throw SystemError.current("link", path) }
        } catch let error as CordonError {
            throw error
        } catch let error as SystemError {
            if error.errno == EEXIST { throw CordonError(.alreadyExists, "the keystore's master key \(path) already exists", hint: "run the command again") }
            throw error.cordonError(.io, "cannot create the keystore's master key \(path)")
        } catch {
            throw CordonError(.internal, "cannot create the keystore's master key \(path)", cause: "\(error)")
        }
        try? FileIO.syncFile(String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]))
        return key
    }

    /// Refuses a file that is not a regular file owned by this user with no group or other access.
    static func checkOwnership(_ info: stat, path: String, what: String) throws(CordonError) {
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw CordonError(.policyDenied, "\(what) \(path) is not a regular file", hint: "move it away; cordon only reads the file it wrote there")
        }
        guard info.st_uid == geteuid() else {
            throw CordonError(
                .policyDenied, "\(what) \(path) is owned by uid \(info.st_uid), not by you (uid \(geteuid()))",
                hint: "chown \(geteuid()) \(path) if the file is yours, else remove it")
        }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw CordonError(
                .policyDenied, "\(what) \(path) is readable or writable by others (mode 0\(String(mode, radix: 8)))",
                hint: "chmod 600 \(path); if others could read it, treat the stored values as exposed and rotate them")
        }
    }
}
