import CordonCore
import Glibc

/// The stream on which cordon-init receives its plan (its descriptor 3): init is started before
/// the plan is made and reads it to the end; the supervisor sends it and closes its side.
struct PlanChannel {
    private(set) var parent: Int32
    private(set) var child: Int32

    static func make() throws(CordonError) -> PlanChannel {
        let pair = try socketPair(SOCK_STREAM)
        return PlanChannel(parent: pair.parent, child: pair.child)
    }

    /// Sends all of `bytes` (init reads while this writes, so any size goes through).
    func send(_ bytes: [UInt8]) throws(CordonError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(parent, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CordonError(.sandboxSetup, "cannot hand the plan to cordon-init", cause: String(cString: strerror(errno)))
            }
            offset += n
        }
    }

    mutating func closeParent() {
        if parent >= 0 { close(parent) }
        parent = -1
    }

    mutating func closeChild() {
        if child >= 0 { close(child) }
        child = -1
    }
}
