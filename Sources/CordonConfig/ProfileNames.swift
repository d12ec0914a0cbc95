public import CordonCore
import CordonOS

/// The profile and preset names a user can pass (`--profile`, `--preset`), for shell completion:
/// read from directory listings alone (no file's content), and only names the loader would take,
/// so a file name with spaces, quotes or control characters never reaches the terminal.
public enum ProfileNames {
    /// The profiles directory's `NAME.yaml`/`NAME.yml` and the built-in profiles, sorted, once each.
    public static func profiles(paths: CordonPaths) -> [String] {
        sorted(yamlNames(in: paths.profilesDirectory) + ProfileLoader.builtinProfiles.keys)
    }

    /// The built-in presets and the presets directory's `NAME.yaml`/`NAME.yml`, sorted, once each.
    public static func presets(paths: CordonPaths) -> [String] {
        sorted(yamlNames(in: paths.presetsDirectory) + BuiltinPresets.all.map(\.name))
    }

    static func yamlNames(in directory: String) -> [String] {
        (DirectoryListing.names(at: directory) ?? []).compactMap { file in
            for suffix in [".yaml", ".yml"] where file.hasSuffix(suffix) { return String(file.dropLast(suffix.count)) }
            return nil
        }
    }

    static func sorted(_ names: [String]) -> [String] {
        Array(Set(names.filter { ProfileLayerParser.nameProblem($0) == nil })).sorted()
    }
}
