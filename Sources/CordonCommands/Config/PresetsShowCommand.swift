import ArgumentParser
import CordonConfig
import CordonCore

/// `cordon presets show NAME`.
struct PresetsShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a preset's YAML and where it comes from.")

    @Argument(help: "The preset's name (see `cordon presets list`).", completion: .custom(Completions.presets))
    var name: String

    @Flag(help: "Print {version, name, source, yaml, merged} where merged is the preset with its own presets applied.")
    var json = false

    func run() throws {
        let shown: (entry: PresetCatalog.Entry, profile: Profile)
        do { shown = try ConfigTerminal.loader().preset(named: name) } catch { throw ConfigTerminal.fail(error) }
        if json {
            JSONOutput.print(Self.report(entry: shown.entry, profile: shown.profile))
        } else {
            print("# \(shown.entry.name) (\(shown.entry.source))")
            print(shown.entry.yaml.hasSuffix("\n") ? String(shown.entry.yaml.dropLast()) : shown.entry.yaml)
        }
    }

    /// `--json`: docs/json.md, "cordon presets show".
    static func report(entry: PresetCatalog.Entry, profile: Profile) -> [(String, JSONValue)] {
        [
            ("name", .string(entry.name)),
            ("source", .string(entry.source)),
            ("yaml", .string(entry.yaml)),
            ("merged", ProfileRenderer.jsonValue(profile)),
        ]
    }
}
