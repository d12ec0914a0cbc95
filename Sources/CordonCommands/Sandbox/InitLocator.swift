import CordonCore
import CordonOS
import Glibc

/// Finds the cordon-init binary: $CORDON_INIT, next to the cordon executable, or libexec.
enum InitLocator {
    static func path() throws(CordonError) -> String {
        var candidates: [String] = []
        if let env = ProcessEnvironment.current["CORDON_INIT"], !env.isEmpty { candidates.append(env) }
        if let exe = FileIO.readLink("/proc/self/exe"), let slash = exe.lastIndex(of: "/") {
            candidates.append(String(exe[..<slash]) + "/cordon-init")
        }
        candidates += ["/usr/local/libexec/cordon/cordon-init", "/usr/libexec/cordon/cordon-init"]
        for candidate in candidates where access(candidate, X_OK) == 0 { return candidate }
        throw CordonError(
            .notFound, "cordon-init not found (looked in \(candidates.joined(separator: ", ")))",
            hint: "build it with `swift build`, or set CORDON_INIT to its path")
    }
}
