import ArgumentParser
import CordonConfig
import CordonCore

/// `cordon presets list`.
struct PresetsListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List available presets.")

    @Flag(help: "Print JSON: {version, presets: [{name, source, builtin, overrides_builtin, description}]}.")
    var json = false

    func run() throws {
        let catalog: PresetCatalog
        do { catalog = try ConfigTerminal.loader().presetCatalog() } catch { throw ConfigTerminal.fail(error) }
        if json {
            JSONOutput.print(Self.report(catalog))
            return
        }
        let width = catalog.names.map(\.count).max() ?? 0
        for entry in catalog.entries {
            let pad = String(repeating: " ", count: width - entry.name.count)
            var line = "\(entry.name)\(pad)  \(catalog.description(of: entry.name) ?? "")"
            if !entry.isBuiltin { line += entry.overridesBuiltin ? "  [\(entry.source), replaces built-in]" : "  [\(entry.source)]" }
            print(line)
        }
    }

    /// `--json`: docs/json.md, "cordon presets list".
    static func report(_ catalog: PresetCatalog) -> [(String, JSONValue)] {
        let items = catalog.entries.map { entry in
            JSONValue.object([
                ("name", .string(entry.name)),
                ("source", .string(entry.source)),
                ("builtin", .bool(entry.isBuiltin)),
                ("overrides_builtin", .bool(entry.overridesBuiltin)),
                ("description", catalog.description(of: entry.name).map(JSONValue.string) ?? .null),
            ])
        }
        return [("presets", .array(items))]
    }
}
