import CordonCore
import CordonOS
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
        guard let got = try? DescriptorPassing.receive(over: parent, maxDescriptors: 8, capacity: 4096) else { return .closed }
        let received = got.descriptors
        guard !got.message.isEmpty else {
            received.forEach { close($0) }
            return .closed
        }
        let message = String(decoding: got.message, as: UTF8.self)
        if message == "ok", received.count == 4 { return .listeners(received) }
        received.forEach { close($0) }
        return .unavailable(message == "ok" ? "init handed over \(received.count) listeners instead of 4" : message)
    }
}
