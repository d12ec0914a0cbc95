import CordonOS
import Glibc
import Testing

struct FileLockTests {
    /// A path in a fresh scratch directory (removed by `cleanUp`).
    private static func scratchFile() throws -> String {
        var template = Array("/tmp/cordon-os-XXXXXX".utf8CString)
        let made: String? = template.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress, let dir = mkdtemp(base) else { return nil }
            return String(cString: dir)
        }
        guard let made else { throw SystemError.current("make", "a scratch directory") }
        return made + "/lock"
    }

    private static func cleanUp(_ path: String) {
        unlink(path)
        rmdir(String(path.dropLast("/lock".count)))
    }

    /// Whether a second locker gets the lock now (it lets go at once).
    private static func secondLockerGets(_ path: String, _ mode: FileLock.Mode = .exclusive) throws -> Bool {
        try FileLock.attempt(path, mode) != nil
    }

    @Test func anExclusiveLockExcludesASecondLockerUntilItIsDropped() throws {
        let path = try Self.scratchFile()
        defer { Self.cleanUp(path) }
        do {
            let held = try FileLock.acquire(path)
            #expect(FileLock.isHeld(path))
            // A second open file, even in this process, is refused: shared and exclusive alike.
            #expect(try !Self.secondLockerGets(path))
            #expect(try !Self.secondLockerGets(path, .shared))
            _ = consume held
        }
        #expect(!FileLock.isHeld(path))
        #expect(try Self.secondLockerGets(path))
    }

    @Test func sharedLocksCoexistButKeepAnExclusiveOneOut() throws {
        let path = try Self.scratchFile()
        defer { Self.cleanUp(path) }
        do {
            let first = try FileLock.acquire(path, .shared)
            #expect(try Self.secondLockerGets(path, .shared))
            #expect(try !Self.secondLockerGets(path))
            _ = consume first
        }
        #expect(try Self.secondLockerGets(path))
    }

    @Test func aLockHandedOnAsItsDescriptorStaysHeld() throws {
        let path = try Self.scratchFile()
        defer { Self.cleanUp(path) }
        do {
            let descriptor = try FileLock.acquire(path).take()
            #expect(FileLock.isHeld(path))
            _ = consume descriptor
        }
        #expect(!FileLock.isHeld(path))
    }
}
