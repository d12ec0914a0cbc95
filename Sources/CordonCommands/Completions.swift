import CordonConfig
import CordonCore
import CordonOS
import CordonSandbox

/// Shell completion of names (`cordon --generate-completion-script bash|zsh|fish`): the shell runs
/// cordon on every TAB, so these read directory listings only (never a sandbox's content) and
/// offer only names that pass cordon's own checks: nothing else is printed into the terminal.
enum Completions {
    /// Existing sandboxes (the state directory's entries with a valid sandbox name).
    @Sendable static func sandboxes(_ words: [String], _ index: Int, _ prefix: String) -> [String] {
        let names = DirectoryListing.names(at: CordonPaths.current().sandboxesDirectory) ?? []
        return names.filter { (try? SandboxName.validate($0)) != nil && $0.hasPrefix(prefix) }.sorted()
    }

    /// Profile names: the profiles directory and the built-in `default`.
    @Sendable static func profiles(_ words: [String], _ index: Int, _ prefix: String) -> [String] {
        ProfileNames.profiles(paths: .current()).filter { $0.hasPrefix(prefix) }
    }

    /// Preset names: the built-in presets and the presets directory.
    @Sendable static func presets(_ words: [String], _ index: Int, _ prefix: String) -> [String] {
        ProfileNames.presets(paths: .current()).filter { $0.hasPrefix(prefix) }
    }
}
