import CCordon
public import CordonCore
import Glibc

/// Descriptors sent over a unix socket with a message (SCM_RIGHTS), and the unix listener of
/// the control socket.
public enum DescriptorPassing {
    /// One message received: its bytes (empty at end of stream) and the descriptors that came
    /// with it (close-on-exec; the receiver owns them).
    public struct Received {
        public var message: [UInt8]
        public var descriptors: [Int32]
    }

    /// Sends `message` (at least one byte) with `descriptors` attached over `socket`.
    public static func send(_ descriptors: [Int32], message: [UInt8], over socket: Int32) throws(CordonError) {
        let rc = descriptors.withUnsafeBufferPointer { fds in
            message.withUnsafeBytes { ccordon_send_fds(socket, fds.baseAddress, Int32(fds.count), $0.baseAddress, $0.count) }
        }
        if rc < 0 { throw failure("cannot send \(descriptors.count) descriptors over socket \(socket)", rc) }
    }

    /// Receives one message of at most `capacity` bytes with at most `maxDescriptors`. On a
    /// failure, descriptors that arrived are closed.
    public static func receive(over socket: Int32, maxDescriptors: Int, capacity: Int) throws(CordonError) -> Received {
        var fds = [Int32](repeating: -1, count: maxDescriptors)
        var count: Int32 = 0
        var buffer = [UInt8](repeating: 0, count: capacity)
        let n = fds.withUnsafeMutableBufferPointer { f in
            buffer.withUnsafeMutableBytes { ccordon_recv_fds(socket, f.baseAddress, Int32(f.count), &count, $0.baseAddress, $0.count) }
        }
        let received = Array(fds.prefix(Int(max(0, count))))
        guard n >= 0 else {
            received.forEach { close($0) }
            throw failure("cannot receive over socket \(socket)", Int32(clamping: n))
        }
        return Received(message: Array(buffer.prefix(n)), descriptors: received)
    }

    /// A unix stream socket listening at `path` (close-on-exec).
    public static func listen(at path: String, backlog: Int32 = 16) throws(CordonError) -> Int32 {
        let fd = path.withCString { ccordon_unix_listen($0, backlog) }
        if fd < 0 { throw failure("cannot listen at \(path)", fd) }
        return fd
    }

    /// Accepts a connection on `listener` (close-on-exec) with its peer's uid; nil on failure.
    public static func accept(_ listener: Int32) -> (fd: Int32, uid: UInt32)? {
        var uid: UInt32 = 0
        let fd = ccordon_unix_accept(listener, &uid)
        return fd >= 0 ? (fd, uid) : nil
    }

    /// A client of this user only (or root), from a listener in the user's own 0700 directory;
    /// its reads time out after `receiveTimeout` seconds, so a client that connects and says
    /// nothing holds the serving thread no longer. nil for anyone else (closed) or no client.
    public static func acceptOwnUser(_ listener: Int32, receiveTimeout seconds: Int) -> Int32? {
        guard let (fd, uid) = accept(listener) else { return nil }
        guard uid == getuid() || uid == 0 else {
            close(fd)
            return nil
        }
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    private static func failure(_ what: String, _ rc: Int32) -> CordonError {
        CordonError(.systemCall, what, cause: String(cString: strerror(-rc)))
    }
}
