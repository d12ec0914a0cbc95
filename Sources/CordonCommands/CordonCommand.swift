public import ArgumentParser

/// `cordon`: run untrusted agents in a sandbox; nothing reaches the host unless policy says so.
public struct CordonCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "cordon",
        abstract: "Run AI agents you do not fully trust in a sandbox; nothing reaches the host unless your policy says so.",
        version: CordonVersion.string,
        subcommands: [
            RunCommand.self,
            DoctorCommand.self,
            InitCommand.self,
            ConfigCommand.self,
            PresetsCommand.self,
            DiffCommand.self,
            SyncCommand.self,
            ScanCommand.self,
            NetCommand.self,
            ApprovalsCommand.self,
            AllowCommand.self,
            DenyCommand.self,
            BlocklistCommand.self,
        ]
    )

    public init() {}
}

public enum CordonVersion {
    public static let string = "0.1.0"
}

/// Entry point for the `cordon` executable, so it needs no import of ArgumentParser itself.
public enum CordonMain {
    public static func run() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        // `cordon run` is the hot path: parsing only RunCommand skips building the whole command
        // tree (ArgumentParser's reflection over every subcommand costs ~2 ms of conformance
        // lookups in a binary this size). Help, completions and errors still go through it.
        if arguments.first == "run", !asksForHelp(arguments.dropFirst()) {
            // The common shape skips ArgumentParser altogether (its reflection costs ~4 ms more).
            if let command = RunCommand.direct(arguments.dropFirst()) { command.runAndExit() }
            RunCommand.main(Array(arguments.dropFirst()))
        }
        CordonCommand.main(arguments)
    }

    /// Whether help is requested before the `--` that starts the sandboxed command.
    static func asksForHelp(_ arguments: ArraySlice<String>) -> Bool {
        for argument in arguments {
            if argument == "--" { return false }
            if argument == "-h" || argument == "--help" || argument == "help" || argument.hasPrefix("--generate-completion") { return true }
        }
        return false
    }
}
