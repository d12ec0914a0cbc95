import ArgumentParser
import CordonCore
import CordonSecrets

/// `cordon secrets init [--passphrase]`: makes the keystore (`set` makes one in master-key mode
/// on first use; passphrase mode is chosen here).
struct SecretsInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the keystore: under a random master key file (default), or a passphrase (--passphrase, Argon2id).")

    @Flag(help: "Derive the key from a passphrase (asked twice without echo, or read from the descriptor in CORDON_PASSPHRASE_FD).")
    var passphrase = false

    func run() throws {
        do throws(CordonError) {
            let keystore = SecretsTerminal.keystore
            try Exposure.hide()
            let phrase = passphrase ? try SecretsTerminal.passphrase(confirm: true) : nil
            try keystore.withLock { () throws(CordonError) in _ = try keystore.create(passphrase: phrase) }
            Console.note("created \(keystore.paths.store) (\(passphrase ? "passphrase, Argon2id" : "master key \(keystore.paths.masterKey)"))")
        } catch { throw SecretsTerminal.fail(error) }
    }
}
