import ArgumentParser
import CordonCore
import CordonSandbox

/// `cordon discard NAME [PATH…]`: drops changes from a stopped sandbox's upper layer.
struct DiscardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "discard",
        abstract: "Drop a stopped sandbox's changes: all of them, or those at the given workspace paths (the host's version shows again).",
        discussion: """
            A PATH is relative to the workspace (or absolute beneath it, or beneath /workspace); a \
            directory is dropped with everything beneath it. Dropping a deletion or a replaced \
            directory restores the host's. Refused while the sandbox runs (overlayfs does not \
            define what a mounted overlay shows when its upper layer changes: stop it first) or a \
            sync holds it. Without PATH the overlay mounts' changes go too. Exit status: 0 \
            dropped, 1 refused (running, sync in progress), 2 error.
            """
    )

    @OptionGroup var sandbox: SandboxSelection

    @Argument(help: "Workspace paths whose changes to drop (default: every change).")
    var paths: [String] = []

    @Flag(help: "Print JSON: {version, sandbox, discarded: [path], all, changes}.")
    var json = false

    func run() throws {
        do throws(CordonError) {
            let dropped = try UpperDiscard.discard(name: sandbox.name, layout: try sandbox.layout(), paths: paths)
            if json {
                JSONOutput.print([
                    ("sandbox", .string(sandbox.name)), ("discarded", .array(dropped.paths.map { .string($0) })), ("all", .bool(dropped.paths.isEmpty)),
                    ("changes", dropped.changes.map { .int($0) } ?? .null),
                ])
                return
            }
            if dropped.paths.isEmpty {
                let count = dropped.changes.map { "\($0) change\($0 == 1 ? "" : "s")" } ?? "every change"
                print(Console.line("\(sandbox.name): discarded \(count)"), terminator: "")
            }
            for path in dropped.paths { print(Console.line("\(sandbox.name): discarded \(path)"), terminator: "") }
        } catch {
            Console.error(error)
            throw ExitCode(error.code == .alreadyExists ? 1 : 2)
        }
    }
}
