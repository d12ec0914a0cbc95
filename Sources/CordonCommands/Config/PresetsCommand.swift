import ArgumentParser

/// `cordon presets`: the presets profiles can compose.
struct PresetsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "presets",
        abstract: "List and show presets (built-in, and yours in the config directory's presets/).",
        subcommands: [PresetsListCommand.self, PresetsShowCommand.self],
        defaultSubcommand: PresetsListCommand.self
    )
}
