import CordonCore
import CordonOS
import Glibc

/// The `cordon-selftest` executable, which `cordon selftest` hands over to (execve) with its
/// options checked. Exit: 0 all held, 1 any OPEN, 3 none OPEN but any invalid (or sandboxes
/// cannot start at all), 64 usage, 130 interrupted.
public enum SelftestMain {
    public static func main(arguments: [String], catalogue: [Attack] = AttackCatalogue.all) -> Int32 {
        let options: SelftestOptions
        do { options = try SelftestOptions(arguments: arguments) } catch {
            SelftestRunner.say("cordon selftest: \(error)")
            return 64
        }
        let attacks = options.only.isEmpty ? catalogue : catalogue.filter { options.only.contains($0.category) }
        if options.list {
            print(options.json ? SelftestReport.listJSON(attacks).pretty() : SelftestReport.listText(attacks), terminator: options.json ? "\n" : "")
            return 0
        }
        // A category chosen that has no attack proves nothing: said, and nothing at all is not a pass.
        let empty = options.only.filter { category in !catalogue.contains { $0.category == category } }
        if !empty.isEmpty {
            SelftestRunner.say("cordon selftest: no attacks yet in \(empty.map(\.rawValue).joined(separator: ", "))")
        }
        if attacks.isEmpty { return 3 }
        let interrupt: Int32
        do { interrupt = try SignalPipe.install([SIGINT, SIGTERM, SIGHUP]) } catch {
            SelftestRunner.say("cordon selftest: \(error)")
            return 3
        }
        let environment: SelftestEnvironment
        do { environment = try SelftestEnvironment(interrupt: interrupt) } catch {
            SelftestRunner.say("cordon selftest: \(error)")
            return 3
        }
        defer { environment.cleanup() }
        if let reason = SandboxProbe.cannotStart(environment) {
            SelftestRunner.say("cordon selftest: sandboxes cannot start on this host: \(reason)")
            return 3
        }
        let report = SelftestReport(SelftestRunner(progress: !options.json).run(attacks, in: environment))
        if SelftestRunner.interrupted(interrupt) {
            environment.cleanup()
            SelftestRunner.say(
                "cordon selftest: interrupted after \(report.outcomes.count) of \(attacks.count) attacks; sandboxes and temporary files removed")
            return 130
        }
        if options.json {
            print(report.json.pretty())
        } else {
            print(report.text, terminator: "")
        }
        return report.exitStatus
    }
}

/// Whether a sandbox can start here at all (namespaces, cgroups): one `cordon run -- true`.
enum SandboxProbe {
    static func cannotStart(_ environment: SelftestEnvironment) -> String? {
        do {
            let workspace = try environment.workspace("probe")
            let profile = try environment.profile("probe", "name: selftest-probe\nnetwork: none\n")
            let output = try environment.run("selftest-probe", profile: profile, workspace: workspace, "true", timeout: 120)
            guard output.status == 0 else { return output.stderr.isEmpty ? output.summary : String(output.stderr.prefix(400)) }
            environment.remove("selftest-probe")
            return nil
        } catch {
            return error.description
        }
    }
}
