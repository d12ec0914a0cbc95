import ArgumentParser
import CordonCore
import CordonSandbox

/// The sandbox a command acts on: its name (checked as `cordon run` checks it), and the hidden
/// `--state-dir` that tests use instead. Shared by diff, sync, net log, approvals, allow and deny.
struct SandboxSelection: ParsableArguments {
    @Argument(help: "The sandbox name.")
    var name: String

    @Option(name: .customLong("state-dir"), help: .hidden)
    var stateDir: String?

    /// The selected sandbox's state directory.
    func layout(paths: CordonPaths = .current()) throws(CordonError) -> SandboxLayout {
        try SandboxLayout.selected(name: name, stateDir: stateDir, paths: paths)
    }
}

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
