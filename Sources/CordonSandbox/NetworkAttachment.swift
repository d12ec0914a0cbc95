import CCordon
import CordonCore
import Glibc

/// The unix socket over which cordon-init hands the supervisor the listeners it made inside
/// the sandbox's network namespace (or the reason it could not).
struct CaptureChannel {
    let parent: Int32
    private(set) var child: Int32

    static func make() throws(CordonError) -> CaptureChannel {
        let pair = try socketPair(SOCK_SEQPACKET)
        return CaptureChannel(parent: pair.parent, child: pair.child)
    }

    mutating func closeChild() {
        if child >= 0 { close(child) }
        child = -1
    }

    enum Received {
        case listeners([Int32])
        case unavailable(String)
        /// init ended before reporting (its setup error says why).
        case closed
    }

    /// Blocks until init reports; closes the parent end.
    func receive() -> Received {
        defer { close(parent) }
        var fds = [Int32](repeating: -1, count: 8)
        var count: Int32 = 0
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = fds.withUnsafeMutableBufferPointer { f in
            buffer.withUnsafeMutableBytes { ccordon_recv_fds(parent, f.baseAddress, Int32(f.count), &count, $0.baseAddress, $0.count) }
        }
        let received = Array(fds.prefix(Int(count)))
        guard n > 0 else {
            received.forEach { close($0) }
            return .closed
        }
        let message = String(decoding: buffer.prefix(n), as: UTF8.self)
        if message == "ok", received.count == 4 { return .listeners(received) }
        received.forEach { close($0) }
        return .unavailable(message == "ok" ? "init handed over \(received.count) listeners instead of 4" : message)
    }
}
