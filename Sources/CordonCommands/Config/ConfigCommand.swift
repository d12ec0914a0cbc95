import ArgumentParser

/// `cordon config`: check, merge and convert profiles.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Check, merge and convert profiles.",
        subcommands: [ConfigValidateCommand.self, ConfigCompileCommand.self, ConfigImportCommand.self]
    )
}
