import ArgumentParser
import CordonConfig
import CordonCore

/// `cordon config validate FILE`: every problem with its file:line:column, field and fix.
struct ConfigValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a profile and its presets; list every problem with its position and a fix.",
        discussion: """
            Exits 0 when valid, 1 when the profile has problems, 2 when it cannot be read. Settings that hand the agent the \
            host (a read-write mount of / or of your home directory, network: host) are valid: they are warned about on \
            stderr and do not change the exit code.
            """
    )

    @Argument(help: "The profile: a file (YAML), or a name as `cordon run --profile` takes it (one in the profiles directory, or `default`).")
    var file: String

    @Flag(help: "Print {\"version\": 1, \"valid\": …, \"errors\": [{file, line, column, field, message, hint}], \"warnings\": [{file, field, message, hint}]}.")
    var json = false

    func run() throws {
        let validation = try ConfigTerminal.validate(reference: file)
        let warnings = validation.profile?.riskWarnings(homeDirectory: ConfigTerminal.homeDirectory, resolve: CordonPaths.canonical) ?? []
        // Loud whatever the output format: stderr is for people, --json's stdout for programs.
        for warning in warnings { Console.warning("\(file): \(warning)") }
        if json {
            JSONOutput.print(Self.report(file: file, validation: validation, warnings: warnings))
        } else if validation.isValid {
            let presets = validation.profile?.presets ?? []
            print("\(file): valid" + (presets.isEmpty ? "" : " (presets: \(presets.joined(separator: ", ")))"))
        } else {
            for diagnostic in validation.diagnostics { Console.note(diagnostic.description) }
            let count = validation.diagnostics.count
            Console.note("\(file): \(count) problem\(count == 1 ? "" : "s")")
        }
        if !validation.isValid { throw ExitCode(1) }
    }

    /// `--json`: docs/json.md, "cordon config validate".
    static func report(file: String, validation: ProfileValidation, warnings: [ProfileWarning]) -> [(String, JSONValue)] {
        [
            ("valid", .bool(validation.isValid)),
            ("file", .string(file)),
            ("presets", .array((validation.profile?.presets ?? []).map(JSONValue.string))),
            ("errors", .array(validation.diagnostics.map(ConfigTerminal.diagnosticJSON))),
            (
                "warnings",
                .array(
                    warnings.map {
                        .object([("file", .string(file)), ("field", .string($0.field)), ("message", .string($0.message)), ("hint", .string($0.hint))])
                    })
            ),
        ]
    }
}
