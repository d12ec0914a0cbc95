import ArgumentParser
import CordonCore
import CordonSecrets

/// `cordon secrets set NAME [--stdin]`.
struct SecretsSetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Store a secret's value (typed twice without echo, or --stdin), replacing one of the same name.",
        discussion: "The value is never taken from the command line or the environment. A GitHub classic token (ghp_…) is refused unless --allow-classic."
    )

    @Argument(help: "The entry's name: a letter, then up to 63 letters, digits, '_', '.' or '-'.")
    var name: String

    @Flag(help: "Read the value from stdin (one trailing newline dropped) instead of prompting.")
    var stdin = false

    @Flag(help: "Store a GitHub classic personal access token (ghp_…); fine-grained tokens are the default for a reason.")
    var allowClassic = false

    func validate() throws {
        guard SecretName.isValid(name) else { throw ValidationError("\"\(name)\" is not a valid secret name (\(SecretName.grammar))") }
    }

    func run() throws {
        do throws(CordonError) {
            let secret = try SecretsTerminal.name(name)
            let keystore = SecretsTerminal.keystore
            try Exposure.hide()
            let value = try SecretsTerminal.value(for: secret, fromStdin: stdin)
            try SecretValuePolicy.check(value, name: secret, allowClassic: allowClassic)
            let replaced = try keystore.withLock { () throws(CordonError) -> Bool in
                let store: Keystore.Unlocked
                if try keystore.metadata() == nil {
                    store = try keystore.create(passphrase: nil)
                } else {
                    store = try keystore.unlock { () throws(CordonError) in try SecretsTerminal.passphrase(confirm: false) }
                }
                let existed = store.file.entry(secret.text) != nil
                try store.set(secret, value)
                try store.save()
                return existed
            }
            Console.note("\(replaced ? "replaced" : "stored") \(secret) in \(keystore.paths.store)")
        } catch { throw SecretsTerminal.fail(error) }
    }
}
