#if canImport(Glibc)
    import Glibc
#endif

/// Anonymous memory for secret values: its own mapping, left out of core dumps
/// (MADV_DONTDUMP), locked against swap where the limit allows (mlock), and overwritten with
/// zeros before it is unmapped. A page or more per region: few values are held at once.
public final class LockedMemory {
    public let base: UnsafeMutableRawPointer
    public let capacity: Int
    /// Whether mlock succeeded (an unprivileged user's RLIMIT_MEMLOCK may refuse it).
    public let locked: Bool

    /// A zeroed region of at least `bytes` bytes (rounded up to whole pages).
    public init(bytes: Int) throws(SystemError) {
        let page = max(Int(sysconf(Int32(_SC_PAGESIZE))), 4096)
        let size = max(page, (bytes + page - 1) / page * page)
        let mapped = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let mapped, mapped != UnsafeMutableRawPointer(bitPattern: -1) else { throw SystemError.current("mmap", "secret memory") }
        // Out of core dumps first: a region that cannot be excluded is not used for a secret.
        guard madvise(mapped, size, MADV_DONTDUMP) == 0 else {
            let failure = SystemError.current("madvise(MADV_DONTDUMP)", "secret memory")
            munmap(mapped, size)
            throw failure
        }
        // Not inherited by a child process either (a spawn copies nothing of it).
        _ = madvise(mapped, size, MADV_WIPEONFORK)
        base = mapped
        capacity = size
        locked = mlock(mapped, size) == 0
    }

    /// One read(2) from `fd` into the region at `offset`, at most `count` bytes (retried on
    /// EINTR); 0 at end of input. The bytes go straight into the region, through no other buffer.
    public func read(from fd: Int32, at offset: Int, count: Int) throws(SystemError) -> Int {
        precondition(offset >= 0 && count >= 0 && offset + count <= capacity)
        while true {
            let got = Glibc.read(fd, base.advanced(by: offset), count)
            if got >= 0 { return got }
            if errno != EINTR { throw SystemError.current("read", "a secret value") }
        }
    }

    /// Writes the region's first `count` bytes to `fd` whole (short writes and EINTR retried).
    public func write(to fd: Int32, count: Int) throws(SystemError) {
        precondition(count >= 0 && count <= capacity)
        var done = 0
        while done < count {
            let wrote = Glibc.write(fd, base.advanced(by: done), count - done)
            if wrote > 0 {
                done += wrote
            } else if wrote < 0, errno != EINTR {
                throw SystemError.current("write", "a secret value")
            }
        }
    }

    /// Overwrites the whole region with zeros (explicit_bzero: not elided as a dead store).
    public func wipe() { explicit_bzero(base, capacity) }

    deinit {
        explicit_bzero(base, capacity)
        if locked { munlock(base, capacity) }
        munmap(base, capacity)
    }
}
