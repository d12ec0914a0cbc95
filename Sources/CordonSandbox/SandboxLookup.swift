public import CordonCore
import CordonOS

/// The errors every command that names a sandbox gives, in one wording: an unknown name (with
/// `cordon ls` as the fix), a sandbox that is not running, one that already is.
public enum SandboxLookup {
    /// `CordonError.unknownSandbox`: the wording `ls`, `status`, `rm` give too.
    public static func unknown(_ name: String) -> CordonError { CordonError.unknownSandbox(name) }

    public static func notRunning(_ name: String) -> CordonError {
        CordonError(.invalidArgument, "sandbox \(name) is not running", hint: "start it with `cordon start \(name)`")
    }

    public static func alreadyRunning(_ name: String) -> CordonError {
        CordonError(
            .alreadyExists, "sandbox \(name) is already running",
            hint: "`cordon exec \(name) -- CMD` runs a command in it, `cordon down \(name)` stops it")
    }

    /// Whether the sandbox exists (it has a state directory with its record or its `up` record).
    public static func exists(_ layout: SandboxLayout) -> Bool {
        FileIO.kind(layout.record) == .file || FileIO.kind(layout.upRecord) == .file
    }

    /// `layout` when the sandbox exists; `unknown(name)` otherwise.
    public static func existing(_ layout: SandboxLayout, name: String) throws(CordonError) -> SandboxLayout {
        guard exists(layout) else { throw unknown(name) }
        return layout
    }
}
