import ArgumentParser
import CordonConfig
import CordonCore

/// `cordon config import FILE`: an srt settings file (or Claude Code settings.json) as a cordon profile.
struct ConfigImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Convert a sandbox-runtime (srt) settings file or a Claude Code settings.json into a profile.",
        discussion: """
            The profile goes to stdout (or --output); every setting that was not carried over as-is is \
            listed on stderr with the reason. Nothing is dropped silently.
            """
    )

    @Argument(help: "The srt settings JSON (e.g. ~/.srt-settings.json) or a Claude Code settings.json.")
    var file: String

    @Option(name: .shortAndLong, help: "Write the profile here instead of stdout.")
    var output: String?

    @Flag(help: "Overwrite --output if it exists.")
    var force = false

    @Flag(help: "Print {\"version\": 1, \"profile\": …, \"notes\": [...]} instead of YAML.")
    var json = false

    func run() throws {
        let result: SRTImport
        do {
            result = try SRTImporter.convert(json: ConfigTerminal.read(file), file: file)
        } catch {
            throw ConfigTerminal.fail(error)
        }
        let text: String
        if json {
            text = JSONOutput.text(Self.report(result)) + "\n"
        } else {
            text =
                "# Imported by `cordon config import` from \(file).\n"
                + "# Check it with `cordon config validate`; the settings not carried over were listed when it was written.\n"
                + ProfileRenderer.yaml(result.profile, minimal: true)
        }
        if let output {
            do { try ConfigTerminal.write(text, to: CurrentDirectory.absolute(output), force: force) } catch { throw ConfigTerminal.fail(error) }
        } else {
            print(text, terminator: "")
        }
        if !json && !result.notes.isEmpty {
            Console.note("not carried over (\(result.notes.count)):")
            for note in result.notes { Console.note("  " + note) }
        }
    }

    /// `--json`: docs/json.md, "cordon config import".
    static func report(_ result: SRTImport) -> [(String, JSONValue)] {
        [("profile", ProfileRenderer.jsonValue(result.profile)), ("notes", .array(result.notes.map(JSONValue.string)))]
    }
}
