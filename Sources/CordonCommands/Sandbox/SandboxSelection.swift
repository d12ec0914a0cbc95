import CordonCore
import CordonSandbox

extension SandboxLayout {
    /// The state directory of the sandbox a command names: `--state-dir` when given (tests),
    /// else `<state>/sandboxes/NAME` with NAME checked as `cordon run` checks it, so a name such
    /// as `../other` never reaches a directory outside the sandboxes.
    static func selected(name: String, stateDir: String?, paths: CordonPaths = .current()) throws(CordonError) -> SandboxLayout {
        if let stateDir { return SandboxLayout(directory: stateDir) }
        try SandboxName.validate(name)
        return SandboxLayout(paths: paths, name: name)
    }
}
