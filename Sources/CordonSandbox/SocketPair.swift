import CordonCore
import Glibc

/// A close-on-exec unix socket pair between the supervisor (`parent`) and cordon-init (`child`,
/// one of its numbered descriptors): sockets, not pipes, so a write to a dead init fails with
/// EPIPE instead of raising SIGPIPE.
func socketPair(_ type: __socket_type) throws(CordonError) -> (parent: Int32, child: Int32) {
    var pair: [Int32] = [-1, -1]
    guard socketpair(AF_UNIX, Int32(type.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
        throw CordonError(.systemCall, "socketpair failed", cause: String(cString: strerror(errno)))
    }
    return (pair[0], pair[1])
}
