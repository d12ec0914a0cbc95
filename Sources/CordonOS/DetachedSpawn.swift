import CCordon
public import CordonCore
import Glibc

/// A process that outlives its starter: posix_spawn in a session of its own (POSIX_SPAWN_SETSID),
/// no parent-death signal, `descriptors[i]` as its descriptor i and no other descriptor of ours
/// (whatever a launcher left open without close-on-exec included). `cordon up` starts the
/// sandbox's supervisor so.
public enum DetachedSpawn {
    /// Starts `path`; its pid. It is not waited for: once the caller exits it is reparented.
    public static func start(path: String, arguments: [String], environment: [String], descriptors: [Int32]) throws(CordonError) -> Int32 {
        let pid = withCStrings(arguments) { argv -> Int32 in
            withCStrings(environment) { envp -> Int32 in
                guard let argv = argv.baseAddress, let envp = envp.baseAddress else { return -EINVAL }
                return descriptors.withUnsafeBufferPointer { fds in
                    ccordon_spawn_detached(
                        path, UnsafeRawPointer(argv).assumingMemoryBound(to: UnsafeMutablePointer<CChar>?.self),
                        UnsafeRawPointer(envp).assumingMemoryBound(to: UnsafeMutablePointer<CChar>?.self), fds.baseAddress, Int32(fds.count))
                }
            }
        }
        guard pid > 0 else { throw CordonError(.systemCall, "cannot start \(path)", cause: String(cString: strerror(-pid))) }
        return pid
    }
}
