import ArgumentParser
import CordonCore
import CordonGate
import CordonScan
import FoundationEssentials

/// `cordon scan PATH…`: the sync gate's secret scanner on any files or trees.
struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Scan files or directories for secrets with cordon's rules or a gitleaks TOML config.",
        discussion: "Exit status: 0 nothing found, 1 findings, 2 error (including a config that cannot load)."
    )

    @Argument(help: "Files or directories to scan.")
    var paths: [String]

    @Option(help: "A gitleaks TOML config ([[rules]], allowlists, [extend] useDefault).")
    var config: String?

    @Flag(help: "Print findings as JSON.")
    var json = false

    @Flag(help: "Print findings as SARIF 2.1.0.")
    var sarif = false

    func validate() throws {
        _ = try OutputFormat(json: json, sarif: sarif)
    }

    /// `--json`: docs/json.md, "cordon scan".
    struct Report: Encodable {
        var version = JSONOutput.version
        var findings: [Finding]
        var filesScanned: Int
        var bytesScanned: UInt64
        var seconds: Double
        var engine: String
    }

    func run() throws {
        let format = try OutputFormat(json: json, sarif: sarif)
        let start = ContinuousClock.now
        let result: TreeScanner.Result
        let scanner: SecretScanner
        do {
            let rules: RuleSet
            if let config { rules = try RuleSet.load(path: config) } else { rules = try RuleSet.defaults() }
            scanner = try SecretScanner(rules, cacheDirectory: CordonPaths.current().scannerCache)
            result = try TreeScanner(scanner: scanner).scan(paths)
        } catch {
            Console.error(error)
            throw ExitCode(2)
        }
        let elapsed = start.duration(to: .now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        switch format {
        case .json:
            try JSONOutput.print(
                Report(
                    findings: result.findings, filesScanned: result.filesScanned, bytesScanned: result.bytesScanned, seconds: seconds,
                    engine: scanner.usesHyperscan ? "hyperscan" : "icu"))
        case .sarif:
            print(SARIFReport.json(findings: result.findings, toolVersion: CordonVersion.string))
        case .text:
            for finding in result.findings { print(finding.rendered) }
            print("\(counted(result.findings.count, "finding")) in \(counted(result.filesScanned, "file")) (\(formatSize(result.bytesScanned)))")
        }
        if !result.findings.isEmpty { throw ExitCode(1) }
    }
}
