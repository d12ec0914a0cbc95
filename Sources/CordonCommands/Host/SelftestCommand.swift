import ArgumentParser
import CordonCore
import CordonOS
import Glibc

/// `cordon selftest`: attacks the sandbox from inside and judges each from the host
/// (docs/selftest.md). The options are checked here; the suite runs in `cordon-selftest`
/// (execve), which keeps it out of this binary, whose start-up time is benchmarked.
struct SelftestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Attack cordon's sandbox from inside and report, from the host, which doors held.",
        discussion: """
            Starts sandboxes with test profiles in a temporary HOME (your own sandboxes, profiles \
            and state are never touched; everything is removed at the end, also on Ctrl-C), runs \
            each attack inside and judges it from the host: a canary file changed or read out, a \
            stand-in server reached. Every attack has a positive control, the same attack with \
            the guard absent, which must succeed, or the attack is invalid (it proves nothing). \
            Needs what a sandbox needs (user namespaces; root for some controls).

            Exit status: 0 every attack held; 1 an attack is OPEN; 3 none is OPEN but one is \
            invalid, sandboxes cannot start here, or the categories chosen have no attack; 64 a \
            usage error; 130 interrupted.
            """
    )

    static let categories = ["filesystem", "process", "network", "leaks", "sync", "resources", "supply-chain", "secrets", "isolation"]

    @Flag(name: .long, help: "Print the report as JSON (docs/json.md) and no progress lines.")
    var json = false

    @Option(name: .long, help: "Run only these categories (comma-separated): \(categories.joined(separator: ", ")).")
    var only: String?

    @Flag(name: .long, help: "List every attack (id, category, description, defence, control) without running any.")
    var list = false

    func validate() throws {
        guard let only else { return }
        for name in only.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = String(name.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
            guard Self.categories.contains(trimmed) else {
                throw ValidationError("unknown category \"\(trimmed)\" in --only; valid categories: \(Self.categories.joined(separator: ", "))")
            }
        }
    }

    func run() throws {
        let status = Console.exitOnError { () throws -> Int32 in
            let helper = try HelperLocator.path(of: "cordon-selftest", variable: "CORDON_SELFTEST")
            var arguments = ["cordon-selftest"]
            if json { arguments.append("--json") }
            if list { arguments.append("--list") }
            if let only { arguments += ["--only", only] }
            var environment = ProcessEnvironment.current
            // The attacks run this cordon, unless a test said which.
            if environment["CORDON"] == nil, let executable = FileIO.readLink("/proc/self/exe") { environment["CORDON"] = executable }
            let flat = environment.map { $0.key + "=" + $0.value }
            throw Exec.replaceImage(helper, arguments: arguments, environment: flat).cordonError(.systemCall, "cannot start \(helper)")
        }
        throw ExitCode(status)
    }
}
