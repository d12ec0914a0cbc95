import ArgumentParser
import CordonCore
import CordonOS
import CordonSandbox

/// The sandbox a command acts on: its name (checked as `cordon run` checks it), and the hidden
/// `--state-dir` that tests use instead. Shared by every command that takes a sandbox name.
struct SandboxSelection: ParsableArguments {
    @Argument(help: "The sandbox name.", completion: .custom(Completions.sandboxes))
    var name: String

    @Option(name: .customLong("state-dir"), help: .hidden)
    var stateDir: String?

    /// The selected sandbox's state directory; `CordonError.unknownSandbox` (the one wording of
    /// every command) when there is none.
    func layout(paths: CordonPaths = .current()) throws(CordonError) -> SandboxLayout {
        try SandboxLayout.existing(name: name, stateDir: stateDir, paths: paths)
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

    /// `selected`, and its state directory must exist: `CordonError.unknownSandbox` when not.
    static func existing(name: String, stateDir: String?, paths: CordonPaths = .current()) throws(CordonError) -> SandboxLayout {
        let layout = try selected(name: name, stateDir: stateDir, paths: paths)
        guard FileIO.kind(layout.directory, followSymlinks: false) == .directory else { throw CordonError.unknownSandbox(name) }
        return layout
    }
}
