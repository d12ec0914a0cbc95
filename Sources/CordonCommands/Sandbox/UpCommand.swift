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
                profile: launch.profile, workspace: launch.workspace, mode: launch.mode, directory: CurrentDirectory.path)
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

    func run() throws {
        // Its own descriptor 3 is for `up` alone: no child of the supervisor inherits it.
        _ = fcntl(DetachedSupervisor.readinessDescriptor, F_SETFD, FD_CLOEXEC)
        ProcessMemory.dropRelocationTable()
        let status: Int32
        do {
            guard let start = try RunRequest.load(profile: profile, workspace: workspace, mode: mode, currentDirectory: directory) else {
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
