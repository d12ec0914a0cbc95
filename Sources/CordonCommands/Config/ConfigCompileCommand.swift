import ArgumentParser
import CordonConfig
import CordonCore

/// `cordon config compile FILE`: the profile after presets are merged, as cordon will use it.
struct ConfigCompileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compile",
        abstract: "Print the fully merged profile (presets applied, paths resolved) as YAML or JSON."
    )

    @Argument(help: "The profile: a file (YAML), or a name as `cordon run --profile` takes it (one in the profiles directory, or `default`).")
    var file: String

    @Flag(help: "Print JSON (sizes in bytes, durations in seconds; a top-level version) instead of YAML.")
    var json = false

    func run() throws {
        let validation = try ConfigTerminal.validate(reference: file)
        guard let profile = validation.profile, validation.isValid else {
            for diagnostic in validation.diagnostics { Console.note(diagnostic.description) }
            throw ExitCode(1)
        }
        if json {
            JSONOutput.print(Self.report(profile))
        } else {
            print("# \(file), merged with presets: \(profile.presets.isEmpty ? "none" : profile.presets.joined(separator: ", "))")
            print(ProfileRenderer.yaml(profile), terminator: "")
        }
    }

    /// `--json`: docs/json.md, "cordon config compile": the profile's fields beside `version`.
    static func report(_ profile: Profile) -> [(String, JSONValue)] {
        guard case .object(let fields) = ProfileRenderer.jsonValue(profile) else { return [] }
        return fields
    }
}
