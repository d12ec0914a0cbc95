import ArgumentParser
import CordonConfig
import CordonCore
import CordonOS
import CordonSandbox
import Glibc

/// `cordon up`: a sandbox that outlives the command, under a detached supervisor of its own.
struct UpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Start a sandbox that keeps running; run commands in it with `cordon exec`.",
        discussion: """
            The options are those of `cordon run`. The sandbox's supervisor runs detached (one per \
            sandbox; its output goes to `cordon logs NAME`); `cordon up` returns once the sandbox \
            is ready and prints its name. `cordon exec NAME -- CMD` and `cordon shell NAME` run \
            commands in it, `cordon down NAME` stops it (its changes are kept), `cordon start NAME` \
            starts it again.
            """
    )

    @OptionGroup var launch: LaunchOptions

    @Flag(name: .long, help: "Print {\"version\":1,\"name\":…,\"state\":\"running\"} on stdout.")
    var json = false

    func run() throws {
        let status = Console.exitOnError {
            let sandboxName = launch.name ?? SandboxName.generate()
            let options = SandboxLifecycle.UpOptions(
                profile: launch.profile, workspace: launch.workspace, mode: launch.mode, directory: CurrentDirectory.path,
                flags: try launch.flags(host: ProcessEnvironment.current))
            guard try SandboxLifecycle.bringUp(name: sandboxName, options: options) != nil else { return 125 }
            if json {
                JSONOutput.print([("name", .string(sandboxName)), ("state", .string("running"))])
            } else {
                print(sandboxName)
            }
            return 0
        }
        throw ExitCode(status)
    }
}

/// `cordon __supervise` (hidden): the detached supervisor `cordon up` and `cordon start` run.
/// It runs the sandbox with no command until it is stopped, and says on descriptor 3 when it is
/// ready or why it could not start.
struct SuperviseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "__supervise", shouldDisplay: false)

    @Option var name: String
    @Option var workspace: String
    @Option var directory: String
    @Option var profile: String?
    @Option var mode: Profile.Mode?
    /// `-e` names only: each value is in the environment as `flagEnvironmentPrefix` + NAME, so it
    /// never sits on a command line every host user can read (nor changes the supervisor's own
    /// variables, as `-e HOME=…` would).
    @Option var env: [String] = []
    @Option var preset: [String] = []
    @Option var allow: [String] = []
    @Option var memory: String?
    @Option var cpus: String?
    @Option var network: Profile.Network?

    static let flagEnvironmentPrefix = "CORDON_FLAG_ENV_"

    /// The supervisor's environment entries that carry `-e` values.
    static func flagEnvironment(_ values: [String: String]) -> [String: String] {
        Dictionary(uniqueKeysWithValues: values.map { (flagEnvironmentPrefix + $0.key, $0.value) })
    }

    /// The flags `bringUp` passed, `-e` values read back from the environment.
    func flags(environment: [String: String]) throws(CordonError) -> ProfileFlags {
        var entries: [String] = []
        for key in env {
            guard let value = environment[Self.flagEnvironmentPrefix + key] else {
                throw CordonError(.internal, "the supervisor was given -e \(key) without its value")
            }
            entries.append(key + "=" + value)
        }
        return ProfileFlags(env: entries, presets: preset, allow: allow, memory: memory, cpus: cpus, network: network)
    }

    func run() throws {
        // Its own descriptor 3 is for `up` alone: no child of the supervisor inherits it.
        _ = fcntl(DetachedSupervisor.readinessDescriptor, F_SETFD, FD_CLOEXEC)
        ProcessMemory.dropRelocationTable()
        let status: Int32
        do {
            let flags = try self.flags(environment: ProcessEnvironment.current)
            guard let start = try RunRequest.load(profile: profile, workspace: workspace, mode: mode, flags: flags, currentDirectory: directory) else {
                throw CordonError(.invalidProfile, "the profile is not trusted", hint: "run `cordon trust` on it, then `cordon up` again")
            }
            let runner = SandboxRunner(profile: start.profile, paths: start.paths, host: start.host, warn: Console.note)
            var options = SandboxRunner.Options(
                name: name, workspace: start.workspace, command: [], initPath: try InitLocator.path(), profileSource: start.loaded.source,
                allowTerminal: false)
            options.idle = true
            options.onReady = { DetachedSupervisor.reportReady() }
            let outcome = try runner.run(options)
            Console.note("cordon: sandbox \(name) stopped (init exited \(outcome.exitStatus))")
            status = 0
        } catch {
            Console.error(error)
            DetachedSupervisor.reportFailure(error)
            status = 125
        }
        throw ExitCode(status)
    }
}
