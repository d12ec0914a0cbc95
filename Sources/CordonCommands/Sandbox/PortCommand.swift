import ArgumentParser
import CordonCore
import CordonSandbox

/// `cordon port NAME [HOSTPORT:SANDBOXPORT] [--rm HOSTPORT] [--json]`: forwards a host loopback
/// port into a sandbox brought up (a dev server the agent runs), lists the forwards, removes one.
struct PortCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "port",
        abstract: "Forward a host loopback port into a running sandbox, list its forwards, or remove one.",
        discussion: """
            `cordon port NAME 8080:3000` listens on 127.0.0.1:8080 (and [::1]:8080; loopback only) and carries each \
            connection to 127.0.0.1:3000 inside the sandbox; HOSTPORT 0 lets the host pick a free \
            port (printed). `cordon port NAME` lists the forwards, `cordon port NAME --rm 8080` \
            removes one. Forwards live in the sandbox's supervisor: they end when it stops. Any \
            local user of this host can connect to a forwarded port (docs/threat-model.md).
            Exit status: 0 done, 1 refused (see the message), 2 no such sandbox.
            """)

    @OptionGroup var sandbox: SandboxSelection

    @Argument(help: "HOSTPORT:SANDBOXPORT to forward (HOSTPORT 0: a free port, printed).")
    var mapping: String?

    @Option(name: .customLong("rm"), help: ArgumentHelp("Remove the forward of this host port.", valueName: "HOSTPORT"))
    var remove: String?

    @Flag(help: "Print JSON (docs/json.md, \"cordon port\").")
    var json = false

    func validate() throws {
        if mapping != nil && remove != nil { throw ValidationError("give a HOSTPORT:SANDBOXPORT to add or --rm HOSTPORT to remove, not both") }
        do throws(CordonError) {
            if let mapping { _ = try PortForward.parse(mapping) }
            if let remove { _ = try PortForward.port(remove, what: "--rm's host port", allowZero: false) }
        } catch {
            throw ValidationError(error.message + (error.hint.map { "; \($0)" } ?? ""))
        }
    }

    func run() throws {
        let layout: SandboxLayout
        do { layout = try sandbox.layout() } catch {
            Console.error(error)
            throw ExitCode(2)
        }
        let name = sandbox.name
        let status = Console.exitOnError(status: 1) {
            if let mapping {
                let answer = try PortClient.add(try PortForward.parse(mapping), name: name, layout: layout)
                guard let added = answer.added else { throw CordonError(.io, "sandbox \(name) did not say which port it forwards") }
                if json {
                    JSONOutput.print([("sandbox", .string(name)), ("added", added.json), ("forwards", .array(answer.forwards.map(\.json)))])
                } else {
                    print("\(PortForward.hostAddress):\(added.hostPort)")
                    Console.note(
                        "cordon: \(PortForward.hostAddress):\(added.hostPort) is forwarded to port \(added.sandboxPort) in \(name) until it stops (`cordon port \(name) --rm \(added.hostPort)` removes it)"
                    )
                }
            } else if let remove {
                let port = try PortForward.port(remove, what: "--rm's host port", allowZero: false)
                let answer = try PortClient.remove(hostPort: port, name: name, layout: layout)
                if json {
                    JSONOutput.print([
                        ("sandbox", .string(name)), ("removed", answer.removed?.json ?? .null), ("forwards", .array(answer.forwards.map(\.json))),
                    ])
                } else {
                    Console.note("cordon: \(answer.removed?.description ?? "\(PortForward.hostAddress):\(port)") of \(name) removed")
                }
            } else {
                let answer = try PortClient.list(name: name, layout: layout)
                if json {
                    JSONOutput.print([("sandbox", .string(name)), ("forwards", .array(answer.forwards.map(\.json)))])
                } else if answer.forwards.isEmpty {
                    Console.note("cordon: no ports forwarded into \(name) (`cordon port \(name) HOSTPORT:SANDBOXPORT` adds one)")
                } else {
                    print(Self.table(answer.forwards), terminator: "")
                }
            }
            return 0
        }
        if status != 0 { throw ExitCode(status) }
    }

    /// `HOST  SANDBOX` rows, one per forward.
    static func table(_ forwards: [PortForward]) -> String {
        let rows = [["HOST", "SANDBOX"]] + forwards.map { ["\(PortForward.hostAddress):\($0.hostPort)", "\($0.sandboxPort)"] }
        return SandboxStatusView.table(rows) + "\n"
    }
}
