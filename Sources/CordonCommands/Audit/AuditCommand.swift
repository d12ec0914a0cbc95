import ArgumentParser

/// `cordon audit`: a sandbox's audit log (`cordon audit NAME`) and its check (`cordon audit verify NAME`).
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Show a sandbox's audit log, or verify that it was not edited.",
        discussion: """
            Every sandbox keeps an append-only log of what happened in it: its starts and exits, the \
            commands run, the files written in its upper layers, the network decisions, the approvals \
            and the syncs. Each record carries the SHA-256 of the one before it, and the last record's \
            hash is saved at every stop and sync, so `cordon audit verify` finds an edit, a deletion, a \
            reordering or a rewritten log. See docs/threat-model.md ("Audit log") for what that proves.
            """,
        subcommands: [AuditShowCommand.self, AuditVerifyCommand.self],
        defaultSubcommand: AuditShowCommand.self
    )
}
