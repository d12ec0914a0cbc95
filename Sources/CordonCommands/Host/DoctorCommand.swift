import ArgumentParser
import CordonCore
import CordonSandbox

/// `cordon doctor`: what this host offers; non-zero exit when the default profile cannot run.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check what this host offers cordon and how to fix what is missing."
    )

    @Flag(name: .long, help: "Print the checks as JSON.")
    var json = false

    func run() throws {
        let doctor = HostDoctor(paths: .current(), initPath: try? InitLocator.path())
        let checks = doctor.run()
        let ok = HostDoctor.canRunDefault(checks)
        if json {
            JSONOutput.print(Self.report(checks, canRunDefault: ok))
        } else {
            for c in checks {
                let mark = c.status == .ok ? "ok  " : (c.status == .warning ? "warn" : "FAIL")
                print("[\(mark)] \(c.id): \(c.detail)")
                if !c.fix.isEmpty { print("       \(c.fix)") }
            }
            print(ok ? "The default profile can run on this host." : "The default profile cannot run on this host; fix the FAIL lines above.")
        }
        if !ok { throw ExitCode(1) }
    }

    /// `--json`: docs/json.md, "cordon doctor".
    static func report(_ checks: [HostDoctor.Check], canRunDefault: Bool) -> [(String, JSONValue)] {
        let items: [JSONValue] = checks.map { c in
            .object([
                ("id", .string(c.id)), ("status", .string(c.status.rawValue)), ("required", .bool(c.required)),
                ("detail", .string(c.detail)), ("fix", .string(c.fix)),
            ])
        }
        return [("can_run_default", .bool(canRunDefault)), ("checks", .array(items))]
    }
}
