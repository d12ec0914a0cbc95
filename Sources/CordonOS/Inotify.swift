#if canImport(Glibc)
    import Glibc
#endif

/// An inotify instance (close-on-exec, non-blocking): watches on directories, their events read
/// in batches. The audit's file-write watcher uses it on a sandbox's upper layers; it works
/// without privilege, so a rootless cordon watches as well as one run as root.
public struct Inotify: ~Copyable, Sendable {
    /// One event: the watch it came from, what happened (`IN_*` bits) and the entry's name in
    /// the watched directory as the kernel has it (bytes, possibly not UTF-8; empty for the
    /// directory itself).
    public struct Event: Sendable, Equatable {
        public var watch: Int32
        public var mask: UInt32
        public var name: [UInt8]

        public var isDirectory: Bool { mask & UInt32(IN_ISDIR) != 0 }
        /// The kernel dropped events (its queue was full).
        public var isOverflow: Bool { mask & UInt32(IN_Q_OVERFLOW) != 0 }
        /// The watch is gone (the directory was removed or unmounted).
        public var isIgnored: Bool { mask & UInt32(IN_IGNORED) != 0 }
    }

    /// What the audit watches: content written, entries made, moved in, removed, changed.
    public static let writeEvents: UInt32 = UInt32(IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_ATTRIB | IN_MOVED_FROM)

    private let descriptor: FileDescriptor

    public init() throws(SystemError) {
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { throw SystemError.current("create", "an inotify instance") }
        descriptor = FileDescriptor(adopting: fd)
    }

    /// For poll(2): readable when events wait.
    public var raw: Int32 { descriptor.raw }

    /// Watches the directory open as `directory` (through its /proc/self/fd link, so no path is
    /// resolved again: a component the sandbox swapped for a symlink is never followed).
    /// Returns the watch descriptor (the same one for a directory already watched).
    public func watch(directory: Int32, mask: UInt32) throws(SystemError) -> Int32 {
        let wd = inotify_add_watch(descriptor.raw, "/proc/self/fd/\(directory)", mask | UInt32(IN_ONLYDIR))
        guard wd >= 0 else { throw SystemError.current("watch", "directory descriptor \(directory)") }
        return wd
    }

    /// Stops a watch (ignored when it is already gone).
    public func remove(watch: Int32) {
        _ = inotify_rm_watch(descriptor.raw, watch)
    }

    /// The events waiting now (empty when none: the descriptor does not block).
    public func read() throws(SystemError) -> [Event] {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor.raw, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EAGAIN || errno == EINTR { return [] }
            throw SystemError.current("read", "inotify events")
        }
        return Self.parse(buffer[..<count])
    }

    /// Events from the kernel's packed `struct inotify_event` records (wd, mask, cookie, len,
    /// name padded with NULs). A truncated record ends the batch.
    public static func parse(_ bytes: ArraySlice<UInt8>) -> [Event] {
        var events: [Event] = []
        var offset = bytes.startIndex
        let header = 16
        func word(_ at: Int) -> UInt32 {
            UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
        }
        while offset + header <= bytes.endIndex {
            let wd = Int32(bitPattern: word(offset))
            let mask = word(offset + 4)
            let length = Int(word(offset + 12))
            guard offset + header + length <= bytes.endIndex else { break }
            let field = bytes[(offset + header)..<(offset + header + length)]
            let name = Array(field.prefix { $0 != 0 })
            events.append(Event(watch: wd, mask: mask, name: name))
            offset += header + length
        }
        return events
    }
}
