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
        ]
    )

    public init() {}
}

public enum CordonVersion {
    public static let string = "0.1.0"
}

/// Entry point for the `cordon` executable, so it needs no import of ArgumentParser itself.
public enum CordonMain {
    public static func run() { CordonCommand.main() }
}
