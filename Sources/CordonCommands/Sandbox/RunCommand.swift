public import ArgumentParser
public import CordonConfig
import CordonCore
import CordonOS
import CordonSandbox
import CordonSecrets
import Glibc

/// `cordon run`: one command in a fresh sandbox; exits with the command's status.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a command in a fresh sandbox and return its exit status.",
        discussion: """
            The workspace (default: the current directory) appears at /workspace. In secure mode \
            the agent's writes land in an overlay layer; review them with `cordon diff NAME`. \
            Exit status: the command's, 128+N when it was killed by signal N, 125 when the \
            sandbox could not be set up, 126/127 when the command could not be run or found.
            """
    )

    @OptionGroup var launch: LaunchOptions

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments, after --.")
    var command: [String] = []

    func validate() throws {
        if command.first == "--" { return }
        if command.isEmpty { throw ValidationError("missing command: cordon run [OPTIONS] -- CMD [ARGS…]") }
        // Passthrough capture would otherwise run a mistyped option as the command.
        if command.first == "--help" || command.first == "-h" { throw CleanExit.helpRequest(self) }
        if let first = command.first, first.hasPrefix("-") {
            throw ValidationError("unknown option '\(first)'; put the command after --: cordon run [OPTIONS] -- CMD [ARGS…]")
        }
    }

    func run() throws {
        var argv = command
        if argv.first == "--" { argv.removeFirst() }
        guard !argv.isEmpty else { throw ValidationError("missing command: cordon run [OPTIONS] -- CMD [ARGS…]") }
        var request = RunRequest(profile: launch.profile, workspace: launch.workspace, mode: launch.mode, name: launch.name, command: argv)
        do throws(CordonError) { request.flags = try launch.flags(host: ProcessEnvironment.current) } catch {
            Console.error(error)
            throw ExitCode(125)
        }
        throw ExitCode(request.execute())
    }
}

/// What `cordon run` was asked to do, and doing it. Kept apart from `RunCommand` so the common
/// command line runs without ArgumentParser: building a command's property wrappers alone costs
/// conformance lookups over this large binary's whole conformance table.
struct RunRequest {
    var profile: String?
    var workspace: String?
    var mode: Profile.Mode?
    var name: String?
    /// The sandboxed command and its arguments (never empty).
    var command: [String]
    /// `-e`, `--preset`, `--allow`, `--memory`, `--cpus`, `--network`: never on the fast path.
    var flags = ProfileFlags()

    /// Runs the sandbox; the command's exit status, or 125 when the sandbox could not be set up.
    func execute() -> Int32 {
        // The supervisor stays resident for the whole run: the loader's table is dead weight.
        ProcessMemory.dropRelocationTable()
        return Console.exitOnError {
            guard let start = try Self.load(profile: profile, workspace: workspace, mode: mode, flags: flags, currentDirectory: CurrentDirectory.path)
            else { return 125 }
            let sandboxName = name ?? SandboxName.generate()
            if name == nil { Console.note("cordon: sandbox \(sandboxName)") }
            let runner = SandboxRunner(profile: start.profile, paths: start.paths, host: start.host, warn: Console.note)
            var options = SandboxRunner.Options(
                name: sandboxName, workspace: start.workspace, command: command, initPath: try InitLocator.path(),
                profileSource: start.loaded.source)
            // A sandbox under a made-up name that leaves nothing leaves no state directory either.
            options.keepWhenEmpty = name != nil
            // A passphrase keystore is unlocked at this terminal (or from CORDON_PASSPHRASE_FD).
            options.keystorePassphrase = { () throws(CordonError) -> SecretBytes in try SecretsTerminal.passphrase(confirm: false) }
            let outcome = try runner.run(options)
            Console.note(RunSummary.line(name: sandboxName, outcome: outcome, mode: start.profile.mode))
            return outcome.exitStatus
        }
    }

    /// What a sandbox starts from (`run`, `up`, the detached supervisor, `start`).
    struct Start {
        var paths: CordonPaths
        var host: HostFacts
        var loaded: LoadedProfile
        /// The loaded profile with the command line's flags and mode.
        var profile: Profile
        var workspace: String
        /// The user preset files `--preset` read (the profile's own are in `loaded.files`).
        var flagFiles: [(path: String, bytes: [UInt8])] = []
    }

    /// Loads the profile as `run` does; nil (the trust report said why) when its content is not
    /// the content the user trusted.
    static func load(profile: String?, workspace: String?, mode: Profile.Mode?, flags: ProfileFlags = ProfileFlags(), currentDirectory: String)
        throws(CordonError) -> Start?
    {
        let paths = CordonPaths.current()
        let host = HostFacts.current()
        let loader = ProfileLoader(paths: paths, homeDirectory: host.home)
        let loaded = try loader.load(reference: profile, currentDirectory: currentDirectory)
        var chosen = loaded.profile
        var flagFiles: [(path: String, bytes: [UInt8])] = []
        // The flags are the user's own last layer: the trust check below is about the files.
        if !flags.isEmpty { (chosen, flagFiles) = try flags.apply(to: chosen, loader: loader) }
        if let mode { chosen.mode = mode }
        let workspace = workspace ?? chosen.workspace ?? currentDirectory
        // A profile the workspace's authors (or an earlier agent) could have written is used
        // only with the content the user trusted; nothing is started before this check.
        if case .untrusted(_, let previously) = try ProfileTrust.verdict(
            for: loaded, workspace: workspace, currentDirectory: currentDirectory, paths: paths)
        {
            Console.note(
                TrustReport.untrusted(
                    source: loaded.source, changed: previously != nil,
                    grants: ProfileTrust.grants(loaded.profile), inputs: ProfileTrust.inputs(of: loaded)))
            return nil
        }
        return Start(paths: paths, host: host, loaded: loaded, profile: chosen, workspace: workspace, flagFiles: flagFiles)
    }

    /// `[--name N] [--profile P] [--workspace W] [--mode M] -- CMD [ARGS…]` (each option at most
    /// once, `--opt V` or `--opt=V`) read without ArgumentParser, whose reflection and conformance
    /// lookups cost ~4 ms of every start. nil for anything else (the profile flags `-e`,
    /// `--preset`, `--allow`, `--memory`, `--cpus`, `--network` among it): ArgumentParser then
    /// parses it and owns every error and help message, so this path only ever accepts what it
    /// would accept.
    static func direct(_ arguments: ArraySlice<String>) -> RunRequest? {
        var values: [String: String] = [:]
        var rest = arguments
        while let argument = rest.first, argument != "--" {
            rest = rest.dropFirst()
            guard argument.hasPrefix("--") else { return nil }
            var key = String(argument.dropFirst(2))
            let value: String
            if let equals = key.firstIndex(of: "=") {
                value = String(key[key.index(after: equals)...])
                key = String(key[..<equals])
            } else {
                guard let next = rest.first else { return nil }
                value = next
                rest = rest.dropFirst()
            }
            guard directOptions.contains(key), values[key] == nil, !value.isEmpty, !value.hasPrefix("-") else { return nil }
            values[key] = value
        }
        guard rest.first == "--", rest.count > 1 else { return nil }
        var mode: Profile.Mode?
        if let text = values["mode"] {
            guard let parsed = Profile.Mode(rawValue: text) else { return nil }
            mode = parsed
        }
        return RunRequest(profile: values["profile"], workspace: values["workspace"], mode: mode, name: values["name"], command: Array(rest.dropFirst()))
    }

    static let directOptions: Set<String> = ["profile", "workspace", "mode", "name"]
}

extension Profile.Mode: ExpressibleByArgument {}
