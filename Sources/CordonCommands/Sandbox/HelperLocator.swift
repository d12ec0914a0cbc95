import CordonCore
import CordonOS
import Glibc

/// Finds the executables that ship beside cordon: `$VARIABLE`, next to the cordon executable, or
/// libexec.
enum HelperLocator {
    static func path(of name: String, variable: String) throws(CordonError) -> String {
        var candidates: [String] = []
        if let env = ProcessEnvironment.current[variable], !env.isEmpty { candidates.append(env) }
        if let exe = FileIO.readLink("/proc/self/exe"), let slash = exe.lastIndex(of: "/") {
            candidates.append(String(exe[..<slash]) + "/" + name)
        }
        candidates += ["/usr/local/libexec/cordon/" + name, "/usr/libexec/cordon/" + name]
        for candidate in candidates where access(candidate, X_OK) == 0 { return candidate }
        throw CordonError(
            .notFound, "\(name) not found (looked in \(candidates.joined(separator: ", ")))",
            hint: "build it with `swift build`, or set \(variable) to its path")
    }
}

/// The cordon-init binary (the sandbox's first process).
enum InitLocator {
    static func path() throws(CordonError) -> String { try HelperLocator.path(of: "cordon-init", variable: "CORDON_INIT") }
}
