import ArgumentParser
import CordonConfig
import CordonCore
import CordonNet

/// `cordon approvals NAME`: connections a running sandbox is holding for an answer.
struct ApprovalsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approvals",
        abstract: "List the connections a running sandbox is holding until someone allows or denies them.",
        discussion: "Answer with `cordon allow NAME DOMAIN [--always]` or `cordon deny NAME DOMAIN`. Held connections are denied after 60 s without an answer."
    )

    @OptionGroup var sandbox: SandboxSelection

    @Flag(help: "Print JSON: {version, pending: [{id, host, port, since}]}.")
    var json = false

    /// `--json`: docs/json.md, "cordon approvals".
    struct Report: Encodable {
        var version = JSONOutput.version
        var pending: [ApprovalBroker.Request]
    }

    func run() throws {
        let name = sandbox.name
        do {
            let client = try ControlClient(name: name, stateDir: sandbox.stateDir)
            _ = try client.record()
            guard let response = try client.send(.init(op: .approvals)) else {
                throw CordonError(.notFound, "sandbox \(name) is not running", hint: "approvals exist only while `cordon run` is running")
            }
            guard response.ok else { throw CordonError(.io, response.error ?? "the sandbox refused the request") }
            let pending = response.pending ?? []
            if json {
                try JSONOutput.print(Report(pending: pending))
            } else if pending.isEmpty {
                print("\(name): no connections waiting for approval")
            } else {
                for request in pending { print(TerminalText.escaped("\(request.host):\(request.port)  waiting since \(request.since)")) }
                print("answer: cordon allow \(name) DOMAIN [--always] | cordon deny \(name) DOMAIN")
            }
        } catch {
            Console.error(error)
            throw ExitCode(2)
        }
    }
}

/// `cordon allow NAME DOMAIN [--always]`.
struct AllowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allow",
        abstract: "Allow a running sandbox to reach DOMAIN (held connections are released).",
        discussion: """
            Without --always the approval lasts for this run of the sandbox; it applies to DOMAIN \
            exactly (approving example.com does not cover api.example.com). --always also adds \
            DOMAIN to the profile's approval file (<config>/approvals/PROFILE.list), which \
            `cordon config compile` shows in egress.domains; it works when the sandbox is not running too.
            """
    )

    @OptionGroup var sandbox: SandboxSelection

    @Argument(help: "The domain to allow (exact name).")
    var domain: String

    @Flag(help: "Keep the approval: add DOMAIN to the profile's approval file.")
    var always = false

    func run() throws {
        try Answer.send(sandbox, domain: domain, answer: always ? "always" : "once")
    }
}

/// `cordon deny NAME DOMAIN`.
struct DenyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deny",
        abstract: "Refuse a running sandbox's connections to DOMAIN for the rest of its run (held ones are released with a refusal)."
    )

    @OptionGroup var sandbox: SandboxSelection

    @Argument(help: "The domain to refuse.")
    var domain: String

    func run() throws {
        try Answer.send(sandbox, domain: domain, answer: "deny")
    }
}

enum Answer {
    static func send(_ sandbox: SandboxSelection, domain: String, answer: String) throws {
        let name = sandbox.name
        do {
            let client = try ControlClient(name: name, stateDir: sandbox.stateDir)
            let record = try client.record()
            guard let host = Host(domain), let normalised = host.name ?? host.address?.description else {
                throw CordonError(.invalidArgument, "\"\(domain)\" is not a domain name", hint: "give a name such as example.com")
            }
            if let response = try client.send(.init(op: .answer, host: normalised, answer: answer)) {
                guard response.ok else { throw CordonError(.io, response.error ?? "the sandbox refused the answer") }
                let released = response.released ?? 0
                let verb = answer == "deny" ? "denied" : answer == "always" ? "allowed always" : "allowed for this run"
                print("\(name): \(normalised) \(verb)" + (released > 0 ? " (\(released) held connection\(released == 1 ? "" : "s") released)" : ""))
            } else if answer == "always" {
                let file = ApprovalFile(paths: CordonPaths.current(), profile: record.profile)
                try file.add(ApprovalFile.pattern(host: normalised, port: nil))
                print("\(name) is not running: \(normalised) added to \(file.path) for the next run")
            } else {
                throw CordonError(
                    .notFound, "sandbox \(name) is not running", hint: answer == "deny" ? "nothing to deny" : "use --always to approve it for the next run")
            }
        } catch {
            Console.error(error)
            throw ExitCode(2)
        }
    }
}
