import ArgumentParser
import CordonCore
import CordonSandbox

/// `cordon prune`: removes every stopped sandbox that holds nothing to review.
struct PruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Remove every stopped sandbox without unsynced changes (running ones and those holding changes are kept).",
        discussion: "Crashed and broken sandboxes are removed too when their upper layers hold nothing. Exit status: 0, or 2 when one could not be removed."
    )

    @Flag(help: "Print JSON: {version, removed: [{name, discarded_changes}], failed: [{name, error}]}.")
    var json = false

    func run() throws {
        var removed: [SandboxRemoval.Removed] = []
        var failed: [(String, CordonError)] = []
        for status in SandboxStatus.all(paths: .current()) where status.state != .running && !status.holdsChanges {
            do throws(CordonError) {
                removed.append(try SandboxRemoval.remove(name: status.name, layout: status.layout, discard: false))
            } catch {
                // Started, or written to, since it was listed: kept.
                if error.code == .alreadyExists || error.code == .policyDenied { continue }
                failed.append((status.name, error))
            }
        }
        if json {
            JSONOutput.print([
                ("removed", .array(removed.map(Self.json))),
                ("failed", .array(failed.map { .object([("name", .string($0.0)), ("error", .string($0.1.message))]) })),
            ])
        } else {
            for item in removed { print(Console.line(Self.text(item)), terminator: "") }
            if removed.isEmpty && failed.isEmpty { print("nothing to prune") }
        }
        for (_, error) in failed { Console.error(error) }
        if !failed.isEmpty { throw ExitCode(2) }
    }

    static func text(_ removed: SandboxRemoval.Removed) -> String {
        var text = "removed \(removed.name)"
        if removed.discardedChanges > 0 { text += " (\(removed.discardedChanges) change\(removed.discardedChanges == 1 ? "" : "s") discarded)" }
        return text
    }

    static func json(_ removed: SandboxRemoval.Removed) -> JSONValue {
        .object([("name", .string(removed.name)), ("discarded_changes", .int(removed.discardedChanges))])
    }
}
