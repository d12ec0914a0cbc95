import ArgumentParser
import CordonAudit
import CordonCore

/// `cordon audit verify NAME`: the chain and the head checked (`AuditVerifier`).
struct AuditVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check that a sandbox's audit log was not edited, cut short or rewritten.",
        discussion: """
            Checks every record's seq and its link to the one before, and that the head saved at the \
            last stop or sync is a record of the log. Records written after that head are chained but \
            not covered by it (they are counted). Exit status: 0 ok, 1 the log fails (the first bad \
            record is named), 2 error.
            """
    )

    @OptionGroup var sandbox: SandboxSelection

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let result: Result<AuditVerifier.Report, AuditVerifier.Failure>
        do {
            let layout = try sandbox.layout()
            _ = try layout.loadRecord()
            result = try AuditVerifier.verify(layout: layout, sandbox: sandbox.name)
        } catch {
            Console.error(error)
            throw ExitCode(2)
        }
        switch result {
        case .success(let report):
            if json {
                JSONOutput.print([
                    ("sandbox", .string(sandbox.name)), ("ok", .bool(true)), ("records", .int(report.records)), ("head_seq", .int(report.headSeq)),
                    ("after_head", .int(report.afterHead)),
                ])
            } else {
                let after =
                    report.afterHead == 0
                    ? "" : "; the last \(report.afterHead) record\(report.afterHead == 1 ? " was" : "s were") written after it (not covered by the head)"
                print("ok: \(report.records) records, head matches\(after)")
            }
        case .failure(let failure):
            if json {
                JSONOutput.print([
                    ("sandbox", .string(sandbox.name)), ("ok", .bool(false)),
                    (
                        "error",
                        .object([("line", .int(failure.line)), ("seq", failure.seq.map(JSONValue.int) ?? .null), ("reason", .string(failure.reason))])
                    ),
                ])
            } else {
                Console.note("cordon: audit log of \(sandbox.name) fails: \(failure.description)")
            }
            throw ExitCode(1)
        }
    }
}
