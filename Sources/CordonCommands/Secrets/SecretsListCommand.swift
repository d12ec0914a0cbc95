import ArgumentParser
import CordonConfig
import CordonCore
import CordonSecrets

/// `cordon secrets list [--json]`: names and times, never a value.
struct SecretsListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List stored secrets (names and times; never the values).")

    @Flag(help: "Print JSON: {version, store, key_source, secrets: [{name, created, updated}]}.")
    var json = false

    func run() throws {
        do throws(CordonError) {
            let keystore = SecretsTerminal.keystore
            let file = try keystore.metadata()
            if json {
                JSONOutput.print(Self.report(file, store: keystore.paths.store))
                return
            }
            guard let file, !file.entries.isEmpty else {
                Console.note("no secrets stored (cordon secrets set NAME stores one)")
                return
            }
            let width = file.entries.map(\.name.count).max() ?? 0
            for entry in file.entries {
                print(entry.name + String(repeating: " ", count: width - entry.name.count) + "  updated " + entry.updated)
            }
        } catch { throw SecretsTerminal.fail(error) }
    }

    /// `--json`: docs/json.md, "cordon secrets list".
    static func report(_ file: KeystoreFile?, store: String) -> [(String, JSONValue)] {
        [
            ("store", .string(store)),
            ("key_source", file.map { .string($0.key.source) } ?? .null),
            (
                "secrets",
                .array(
                    (file?.entries ?? []).map { entry in
                        .object([("name", .string(entry.name)), ("created", .string(entry.created)), ("updated", .string(entry.updated))])
                    })
            ),
        ]
    }
}
