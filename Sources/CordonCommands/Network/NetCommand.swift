import ArgumentParser

/// `cordon net …`: a sandbox's network decisions.
struct NetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "net",
        abstract: "Inspect a sandbox's network decisions.",
        subcommands: [NetLogCommand.self]
    )
}
