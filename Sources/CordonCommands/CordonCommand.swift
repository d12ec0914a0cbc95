public import ArgumentParser
import CordonCore
import Glibc

/// `cordon`: run untrusted agents in a sandbox; nothing reaches the host unless policy says so.
public struct CordonCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "cordon",
        abstract: "Run AI agents you do not fully trust in a sandbox; nothing reaches the host unless your policy says so.",
        version: CordonVersion.string,
        subcommands: [
            RunCommand.self,
            UpCommand.self,
            ExecCommand.self,
            ShellCommand.self,
            DownCommand.self,
            StopCommand.self,
            StartCommand.self,
            RestartCommand.self,
            LogsCommand.self,
            PortCommand.self,
            SuperviseCommand.self,
            TrustCommand.self,
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
            LsCommand.self,
            StatusCommand.self,
            RmCommand.self,
            PruneCommand.self,
            DiscardCommand.self,
            AuditCommand.self,
            SecretsCommand.self,
            UsageCommand.self,
            MCPCommand.self,
            SelftestCommand.self,
        ]
    )

    public init() {}
}

/// Entry point for the `cordon` executable, so it needs no import of ArgumentParser itself.
public enum CordonMain {
    public static func run() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        // `cordon run` is the hot path: its common shape is read without ArgumentParser (whose
        // reflection over the command tree costs milliseconds of conformance lookups in a binary
        // this size). It accepts only the four options and `--`; anything else, help included, and
        // every error go through ArgumentParser.
        if arguments.first == "run", let request = RunRequest.direct(arguments.dropFirst()) {
            Glibc.exit(request.execute())
        }
        // `cordon exec NAME -- CMD` likewise: joining a running sandbox should cost less than
        // making one, and ArgumentParser was a third of the client's start.
        if arguments.first == "exec", let request = ExecRequest.direct(arguments.dropFirst()) {
            Glibc.exit(request.execute())
        }
        CordonCommand.main(arguments)
    }
}
