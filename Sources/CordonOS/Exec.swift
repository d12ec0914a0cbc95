import CCordon

#if canImport(Glibc)
    import Glibc
#endif

/// The last steps of a child before its command runs (cordon-init's, which is single-threaded:
/// Swift may run between its fork and exec).
public enum Exec {
    /// execve(2): replaces this process's image; returns only on failure, with why.
    public static func replaceImage(_ executable: String, arguments: [String], environment: [String]) -> SystemError {
        withCStrings(arguments) { a in
            withCStrings(environment) { e in
                guard let argv = a.baseAddress, let envp = e.baseAddress else { return }
                _ = execve(
                    executable, UnsafeMutablePointer(mutating: argv).withMemoryRebound(to: UnsafeMutablePointer<CChar>?.self, capacity: a.count) { $0 },
                    UnsafeMutablePointer(mutating: envp).withMemoryRebound(to: UnsafeMutablePointer<CChar>?.self, capacity: e.count) { $0 })
            }
        }
        return .current("run", arguments.first ?? executable)
    }

    /// Makes the terminal `fd` the controlling terminal of the calling session leader.
    @discardableResult
    public static func setControllingTerminal(_ fd: Int32) -> Bool {
        ccordon_set_controlling_tty(fd) == 0
    }
}
