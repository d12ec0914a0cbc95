import ArgumentParser
import CordonCore
import CordonSecrets

/// `cordon secrets rm NAME`.
struct SecretsRmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a stored secret.")

    @Argument(help: "The entry's name.")
    var name: String

    func run() throws {
        do throws(CordonError) {
            let secret = try SecretsTerminal.name(name)
            let keystore = SecretsTerminal.keystore
            try keystore.withLock { () throws(CordonError) in
                guard var file = try keystore.metadata(), file.entry(secret.text) != nil else {
                    throw CordonError(.notFound, "no secret named \(secret) in \(keystore.paths.store)", hint: "see the stored names: cordon secrets list")
                }
                // Removing needs no key: the entry's sealed value goes with it.
                file.entries.removeAll { $0.name == secret.text }
                try file.write(keystore.paths.store)
            }
            Console.note("removed \(secret) from \(keystore.paths.store)")
        } catch { throw SecretsTerminal.fail(error) }
    }
}
