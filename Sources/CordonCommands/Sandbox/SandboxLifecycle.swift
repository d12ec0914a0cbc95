import ArgumentParser
import CordonConfig
import CordonCore
import CordonOS
import CordonSandbox
import Glibc

/// What `up`, `start`, `restart` and `down` share: bringing a sandbox up under its detached
/// supervisor, and asking that supervisor to stop it.
enum SandboxLifecycle {
    /// The options `up` was given (and `start` gives again from `up.json`).
    struct UpOptions {
        var profile: String?
        var workspace: String?
        var mode: Profile.Mode?
        var directory: String
        /// `-e`, `--preset`, `--allow`, `--memory`, `--cpus`, `--network` (a bare `-e VAR` resolved).
        var flags = ProfileFlags()
    }

    /// Starts the detached supervisor of `name` and waits until the sandbox serves. Returns the
    /// record `start` needs (saved once ready); nil when the profile is not trusted (the trust
    /// report said why). `expectedDigest`: `start` refuses a profile changed since `up`.
    static func bringUp(name: String, options: UpOptions, expectedDigest: String? = nil) throws(CordonError) -> UpRecord? {
        try SandboxName.validate(name)
        guard
            let start = try RunRequest.load(
                profile: options.profile, workspace: options.workspace, mode: options.mode, flags: options.flags, currentDirectory: options.directory)
        else { return nil }
        let layout = SandboxLayout(paths: start.paths, name: name)
        if layout.isRunning { throw SandboxLookup.alreadyRunning(name) }
        // The flags are not the profile: the same flags again (`start` gives the recorded ones)
        // give the same digest; only the files read for them (user presets) count.
        let digest = UpRecord.digest(source: start.loaded.source, mode: options.mode?.rawValue, files: start.loaded.files + start.flagFiles)
        if let expectedDigest, expectedDigest != digest {
            throw CordonError(
                .invalidProfile, "the profile of sandbox \(name) (\(start.loaded.source)) changed since `cordon up`",
                hint: "restore it, or bring the sandbox up with the new profile: `cordon up --name \(name)` with the options it was started with")
        }
        let workspace = CordonPaths.canonical(start.workspace.hasPrefix("/") ? start.workspace : options.directory + "/" + start.workspace)
        var arguments = ["--name", name, "--workspace", workspace, "--directory", options.directory]
        if let profile = options.profile { arguments += ["--profile", profile] }
        if let mode = options.mode { arguments += ["--mode", mode.rawValue] }
        arguments += options.flags.arguments
        // What the supervisor said while starting (the warnings `run` says), said here too.
        let said = try DetachedSupervisor.launch(
            arguments: arguments, layout: layout, name: name, environment: SuperviseCommand.flagEnvironment(options.flags.environment))
        for line in said.split(separator: "\n") { Console.note(String(line)) }
        let record = UpRecord(
            profile: options.profile, directory: options.directory, workspace: workspace, mode: options.mode?.rawValue, profileDigest: digest,
            terminalFilter: start.profile.terminal.filter.rawValue, flags: options.flags)
        try record.save(layout)
        return record
    }

    /// Asks the running sandbox's supervisor to stop it and waits until it has (its overlays
    /// unmounted, its lock released). `notRunning` when it was not running.
    static func stop(name: String, layout: SandboxLayout) throws(CordonError) {
        try ExecClient.stop(name: name, layout: layout)
        // Then the supervisor cleans up (overlays, proxy, cgroup) and releases the lock.
        let deadline = WallClock.monotonic() + 60
        while layout.isRunning {
            guard WallClock.monotonic() < deadline else {
                throw CordonError(.io, "sandbox \(name) did not stop within a minute", hint: "see `cordon logs \(name)`")
            }
            usleep(20_000)
        }
    }

    /// The layout of a sandbox that exists (one wording for an unknown name).
    static func existing(_ selection: SandboxSelection) throws(CordonError) -> SandboxLayout {
        let layout = try selection.layout()
        return try SandboxLookup.existing(layout, name: selection.name)
    }

    /// What `down`, `start` and `restart` share: `action` on the existing sandbox `selection`
    /// names, then `cordon: sandbox NAME <done>`; exits 0, or 125 with the error said.
    static func act(on selection: SandboxSelection, done: String, _ action: (SandboxLayout) throws(CordonError) -> Void) throws {
        let status = Console.exitOnError {
            let layout = try existing(selection)
            try action(layout)
            Console.note("cordon: sandbox \(selection.name) \(done)")
            return 0
        }
        throw ExitCode(status)
    }
}
