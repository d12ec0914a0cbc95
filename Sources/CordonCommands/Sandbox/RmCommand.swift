import ArgumentParser
import CordonCore
import CordonSandbox

/// `cordon rm NAME`: removes a sandbox and its state.
struct RmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm",
        abstract: "Remove a stopped sandbox: its state directory, upper layers, cgroup leftovers and uid range.",
        discussion: """
            Refuses while the sandbox runs or a sync holds it, and while it holds unsynced changes \
            unless --discard is given (review them with `cordon diff NAME` first). Exit status: 0 \
            removed, 1 refused (running, or holding changes), 2 error (no such sandbox…).
            """
    )

    @OptionGroup var sandbox: SandboxSelection

    @Flag(help: "Remove it even though it holds changes (they are lost).")
    var discard = false

    @Flag(help: "Print JSON: {version, removed: [{name, discarded_changes}]}.")
    var json = false

    func run() throws {
        do throws(CordonError) {
            let removed = try SandboxRemoval.remove(name: sandbox.name, layout: try sandbox.layout(), discard: discard)
            if json {
                JSONOutput.print([("removed", .array([PruneCommand.json(removed)]))])
            } else {
                print(Console.line(PruneCommand.text(removed)), terminator: "")
            }
        } catch {
            Console.error(error)
            throw ExitCode(error.code == .policyDenied || error.code == .alreadyExists ? 1 : 2)
        }
    }
}
