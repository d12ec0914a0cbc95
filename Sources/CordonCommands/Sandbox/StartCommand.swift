import ArgumentParser
import CordonConfig
import CordonCore
import CordonSandbox

/// `cordon start NAME`: brings a stopped sandbox up again as `cordon up` did, its changes intact.
struct StartCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Start a stopped sandbox again with the profile, workspace and mode of its `cordon up`.",
        discussion: "Refused when the profile changed since `cordon up` (bring it up again to use the new one).")

    @OptionGroup var sandbox: SandboxSelection

    func run() throws {
        try SandboxLifecycle.act(on: sandbox, done: "started") { layout throws(CordonError) in try Self.start(name: sandbox.name, layout: layout) }
    }

    static func start(name: String, layout: SandboxLayout) throws(CordonError) {
        guard let record = try UpRecord.load(layout) else {
            throw CordonError(
                .invalidArgument, "sandbox \(name) was made by `cordon run`, not `cordon up`: there is nothing to start",
                hint: "bring it up with `cordon up --name \(name)`")
        }
        if layout.isRunning { throw SandboxLookup.alreadyRunning(name) }
        var mode: Profile.Mode?
        if let text = record.mode {
            guard let parsed = Profile.Mode(rawValue: text) else { throw CordonError(.io, "\(layout.upRecord): unknown mode \(text)") }
            mode = parsed
        }
        let options = SandboxLifecycle.UpOptions(
            profile: record.profile, workspace: record.workspace, mode: mode, directory: record.directory, flags: record.flags)
        guard try SandboxLifecycle.bringUp(name: name, options: options, expectedDigest: record.profileDigest) != nil else {
            throw CordonError(.invalidProfile, "the profile of sandbox \(name) is not trusted")
        }
    }
}

/// `cordon restart NAME`: down (when running), then start.
struct RestartCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restart", abstract: "Stop a sandbox (when it runs) and start it again.")

    @OptionGroup var sandbox: SandboxSelection

    func run() throws {
        try SandboxLifecycle.act(on: sandbox, done: "restarted") { layout throws(CordonError) in
            if layout.isRunning { try SandboxLifecycle.stop(name: sandbox.name, layout: layout) }
            try StartCommand.start(name: sandbox.name, layout: layout)
        }
    }
}
