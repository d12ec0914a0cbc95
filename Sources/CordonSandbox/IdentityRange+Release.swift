import CordonCore
import CordonOS
import Glibc

extension IdentityRange {
    /// Gives back the uid block the sandbox directory `directory` claims (its registry entry,
    /// removed only while it still names `directory`, under the registry's lock so that no claim
    /// taking the block back runs meanwhile). Nothing to do when it claims none or the registry
    /// cannot be written (cordon was never run as root here). Returns the block released.
    @discardableResult
    static func release(directory: String, block: UInt32?, registry: String = IdentityRange.registry) -> UInt32? {
        guard let block, block < blocks, access(registry, W_OK) == 0 else { return nil }
        let lock = open(registry + "/.lock", O_RDWR | O_NOFOLLOW | O_CLOEXEC)
        guard lock >= 0 else { return nil }
        defer { close(lock) }
        while flock(lock, LOCK_EX) != 0 { guard errno == EINTR else { return nil } }
        let entry = registry + "/\(block)"
        guard let owner = try? FileIO.readFile(entry, limit: 4096), String(decoding: owner, as: UTF8.self) == directory else { return nil }
        return unlink(entry) == 0 ? block : nil
    }

    /// The block the sandbox directory `directory` records as its own (nil: none).
    static func recordedBlock(directory: String) -> UInt32? {
        guard let bytes = try? FileIO.readFile(directory + "/" + recordName, limit: 32) else { return nil }
        return UInt32(String(decoding: bytes.last == 0x0A ? bytes.dropLast() : bytes[...], as: UTF8.self))
    }
}
