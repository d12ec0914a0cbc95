import ArgumentParser

/// `cordon secrets`: the keystore whose entries profiles bind (`secrets:`); a sandbox sees only
/// placeholders for them.
struct SecretsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secrets",
        abstract: "Store API keys and tokens encrypted; sandboxes see placeholders, never the values.",
        discussion: """
            Values are sealed (ChaCha20-Poly1305) in the state directory's secrets/keystore.json, under a \
            random master key beside it (secrets/master.key, 0600) or, after `cordon secrets init --passphrase`, \
            a key derived from a passphrase with Argon2id. A passphrase is asked without echo at the terminal, \
            or read from the descriptor CORDON_PASSPHRASE_FD names. The sandbox's proxy puts a value in, in place \
            of its placeholder, only in requests to the secret's bound domains (TLS it terminates with cordon's CA).
            """,
        subcommands: [
            SecretsSetCommand.self, SecretsListCommand.self, SecretsShowCommand.self, SecretsRmCommand.self, SecretsInitCommand.self,
        ]
    )
}
