import CCordon

#if canImport(Glibc)
import Glibc
#endif

/// Descriptors sent over a unix socket with a message (SCM_RIGHTS): the only place they cross
/// one. `CaptureChannel` (the capture's listeners) and the limits message to cordon-init use it.
public enum DescriptorPassing {
    /// Sends one message with `descriptors` attached (the caller still owns and closes them).
    public static func send(_ message: [UInt8], descriptors: [Int32], over socket: Int32, _ operation: String = "send descriptors") throws(SystemError) {
        let rc = descriptors.withUnsafeBufferPointer { fds in
            message.withUnsafeBytes { ccordon_send_fds(socket, fds.isEmpty ? nil : fds.baseAddress, Int32(fds.count), $0.baseAddress, $0.count) }
        }
        try check(operation, nil, rc)
    }

    /// Receives one message and up to `maxDescriptors` descriptors (close-on-exec, now the
    /// caller's); an empty message at the end of the stream. Descriptors that arrived with a
    /// failed receive are closed.
    public static func receive(over socket: Int32, maxDescriptors: Int = 16, capacity: Int) throws(SystemError) -> (message: [UInt8], descriptors: [Int32]) {
        var fds = [Int32](repeating: -1, count: max(maxDescriptors, 1))
        var count: Int32 = 0
        var buffer = [UInt8](repeating: 0, count: max(capacity, 1))
        let n = fds.withUnsafeMutableBufferPointer { f in
            buffer.withUnsafeMutableBytes { ccordon_recv_fds(socket, f.baseAddress, Int32(maxDescriptors), &count, $0.baseAddress, $0.count) }
        }
        let received = Array(fds.prefix(Int(max(count, 0))))
        guard n >= 0 else {
            received.forEach { close($0) }
            throw SystemError("receive descriptors", nil, returned: Int32(n))
        }
        guard n > 0 else {
            received.forEach { close($0) }
            return ([], [])
        }
        return (Array(buffer.prefix(n)), received)
    }
}
