@testable import CordonCommands
@testable import CordonConfig
import CordonCore
@testable import CordonFS
@testable import CordonGate
@testable import CordonScan
import CordonNet
import FoundationEssentials
import Testing

/// Every JSON document a command prints has snake_case keys and a top-level `"version": 1`
/// (docs/json.md): scripts and the MCP server read these shapes. Each test builds a command's
/// document with the code the command prints it with, decodes it, and checks both.
struct JSONOutputTests {
    // MARK: Documents encoded from Swift types (camelCase properties before issue #23)

    @Test func diffReportIsSnakeCaseAndVersioned() throws {
        var flags = Change.Flags()
        flags.hardLinked = true
        flags.executableAdded = true
        flags.unsafeName = "not UTF-8"
        let change = Change(
            kind: .modeChanged, path: "bin/run", type: .symlink, size: 3, mode: 0o755, lowerMode: 0o644, lowerSize: 2,
            symlinkTarget: "../x", flags: flags)
        var summary = ChangeSet.Summary()
        summary.dirsAdded = 1
        let text = try JSONOutput.text(DiffCommand.Report(sandbox: "s", workspace: "/w", changes: [change], summary: summary))
        let tree = try JSONTree.parse(text)
        try Self.expectVersioned(tree)
        let first = try #require(tree["changes"]?[0])
        #expect(first["lower_mode"] == .number(0o644))
        #expect(first["symlink_target"] == .string("../x"))
        #expect(first["flags"]?["executable_added"] == .bool(true))
        #expect(first["kind"] == .string("mode_changed"))
        #expect(tree["summary"]?["dirs_added"] == .number(1))
        #expect(tree["summary"]?["bytes_added"] == .number(0))
    }

    @Test func syncReportIsSnakeCaseAndVersioned() throws {
        let finding = Finding(
            ruleID: "github-pat", severity: .block, path: "creds.txt", line: 1, column: 14, message: "a token", match: "ghp_…",
            entropy: 4.5, fix: "remove it", member: "a/b", decoded: ["base64"])
        let report = SyncCommand.Report(
            sandbox: "s", dryRun: true, applied: ["a"], held: ["creds.txt"], findings: [finding], summary: .init(), recovered: nil, exitCode: 1)
        let tree = try JSONTree.parse(try JSONOutput.text(report))
        try Self.expectVersioned(tree)
        #expect(tree["dry_run"] == .bool(true))
        #expect(tree["exit_code"] == .number(1))
        #expect(tree["findings"]?[0]?["rule_id"] == .string("github-pat"))
    }

    @Test func scanReportIsSnakeCaseAndVersioned() throws {
        let finding = Finding(ruleID: "aws-access-key", severity: .block, path: "x", message: "m", fix: "f")
        let report = ScanCommand.Report(findings: [finding], filesScanned: 2, bytesScanned: 10, seconds: 0.5, engine: "icu")
        let tree = try JSONTree.parse(try JSONOutput.text(report))
        try Self.expectVersioned(tree)
        #expect(tree["files_scanned"] == .number(2))
        #expect(tree["bytes_scanned"] == .number(10))
        #expect(tree["findings"]?[0]?["rule_id"] == .string("aws-access-key"))
    }

    @Test func approvalsReportIsAnObjectWithVersionAndPending() throws {
        let request = try JSONDecoder().decode(
            ApprovalBroker.Request.self, from: Data(#"{"id":3,"host":"example.com","port":443,"since":"12:00:01"}"#.utf8))
        let tree = try JSONTree.parse(try JSONOutput.text(ApprovalsCommand.Report(pending: [request])))
        try Self.expectVersioned(tree)
        #expect(tree["pending"]?[0]?["host"] == .string("example.com"))
    }

    // MARK: Documents built field by field

    static let profileYAML = """
        name: rich
        env: {MY_Var: x}
        egress:
          domains: [example.com]
          resolve: {internal.example: 10.0.0.1}
          rate_limits: {"api.example.com": 5}
        """

    static func loader() -> ProfileLoader {
        ProfileLoader(
            paths: CordonPaths(configHome: "/nonexistent/cordon-json-test/config", stateHome: "/nonexistent/cordon-json-test/state"),
            homeDirectory: "/home/test")
    }

    @Test func configValidateIsVersioned() throws {
        let loader = Self.loader()
        let bad = try loader.validate(yaml: "name: x\nnetwork: sideways\nmounts:\n  - {host: /, sandbox: /host, mode: rw}\n", file: "p.yaml")
        let warnings = bad.profile?.riskWarnings(homeDirectory: "/home/test") ?? []
        let tree = try JSONTree.parse(JSONOutput.text(ConfigValidateCommand.report(file: "p.yaml", validation: bad, warnings: warnings)))
        try Self.expectVersioned(tree)
        #expect(tree["valid"] == .bool(false))
        #expect(tree["errors"]?[0]?["field"] == .string("network"))
    }

    @Test func configCompileIsTheProfileBesideAVersion() throws {
        let profile = try Self.loader().parse(yaml: Self.profileYAML, file: "p.yaml")
        let tree = try JSONTree.parse(JSONOutput.text(ConfigCompileCommand.report(profile)))
        try Self.expectVersioned(tree)
        #expect(tree["name"] == .string("rich"))
        #expect(tree["egress"]?["allow_private"] != nil)
    }

    @Test func configImportIsVersioned() throws {
        let result = try SRTImporter.convert(json: #"{"network": {"allowedDomains": ["example.com"]}, "somethingElse": 1}"#, file: "srt.json")
        let tree = try JSONTree.parse(JSONOutput.text(ConfigImportCommand.report(result)))
        try Self.expectVersioned(tree)
        #expect(tree["profile"]?["egress"]?["domains"]?[0] == .string("example.com"))
    }

    @Test func presetsListAndShowAreVersioned() throws {
        let catalog = try Self.loader().presetCatalog()
        let list = try JSONTree.parse(JSONOutput.text(PresetsListCommand.report(catalog)))
        try Self.expectVersioned(list)
        let first = try #require(list["presets"]?[0])
        #expect(first["overrides_builtin"] == .bool(false))
        let name = try #require(catalog.entries.first?.name)
        let shown = try Self.loader().preset(named: name)
        let show = try JSONTree.parse(JSONOutput.text(PresetsShowCommand.report(entry: shown.entry, profile: shown.profile)))
        try Self.expectVersioned(show)
        #expect(show["name"] == .string(name))
    }

    @Test func trustDocumentsAreVersioned() throws {
        let profile = try Self.loader().parse(yaml: Self.profileYAML, file: "p.yaml")
        let trusted = TrustReport.json(
            path: "/w/cordon.yaml", digest: "ab", inputs: [.init(role: "profile", path: "/w/cordon.yaml", sha256: "ab")],
            grants: ProfileTrust.grants(profile))
        let revoked = TrustCommand.revokeReport(path: "/w/cordon.yaml", revoked: true)
        let list = TrustCommand.listReport([("/w/cordon.yaml", "ab", "current")])
        for document in [trusted, revoked, list] {
            try Self.expectVersioned(try JSONTree.parse(JSONOutput.text(document)))
        }
        #expect(try JSONTree.parse(JSONOutput.text(list))["profiles"]?[0]?["state"] == .string("current"))
    }

    @Test func doctorIsVersioned() throws {
        let tree = try JSONTree.parse(JSONOutput.text(DoctorCommand.report([], canRunDefault: true)))
        try Self.expectVersioned(tree)
        #expect(tree["can_run_default"] == .bool(true))
    }

    // MARK: net log --json, a JSON-lines stream

    @Test func netLogLinesEachCarryAVersion() throws {
        let line = #"{"time":"2026-12-06T10:00:00Z","method":"CONNECT","host":"example.com","port":443,"decision":"allow","bytes_up":1,"bytes_down":2}"#
        let tree = try JSONTree.parse(NetLogCommand.versioned(Array(line.utf8)))
        try Self.expectVersioned(tree)
        #expect(tree["bytes_down"] == .number(2))
        #expect(NetLogCommand.versioned(Array("{}".utf8)) == #"{"version":1}"#)
    }

    @Test func netLogLeavesTornAndVersionedLinesAsWritten() {
        let torn = #"{"time":"2026-12-06T10:00:00Z","meth"#
        #expect(NetLogCommand.versioned(Array(torn.utf8)) == torn)
        let versioned = #"{"version":1,"host":"a"}"#
        #expect(NetLogCommand.versioned(Array(versioned.utf8)) == versioned)
    }

    // MARK: Helpers

    /// Object fields whose keys are data (host names, variable names), not field names.
    static let dataMaps: Set<String> = ["env", "resolve", "rate_limits"]

    static func expectVersioned(_ tree: JSONTree, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(tree["version"] == .number(1), "no top-level version", sourceLocation: sourceLocation)
        let wrong = tree.keys(skipping: dataMaps).filter { !isSnakeCase($0) }
        #expect(wrong.isEmpty, "keys not in snake_case: \(wrong)", sourceLocation: sourceLocation)
    }

    static func isSnakeCase(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F }
    }
}

/// A decoded JSON document, for checking shapes without Foundation's JSONSerialization.
indirect enum JSONTree: Decodable, Equatable {
    case object([String: JSONTree])
    case array([JSONTree])
    case string(String)
    case number(Double)
    case bool(Bool)
    case null

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    static func parse(_ text: String) throws -> JSONTree {
        try JSONDecoder().decode(JSONTree.self, from: Data(text.utf8))
    }

    init(from decoder: any Decoder) throws {
        if let object = try? decoder.container(keyedBy: Key.self) {
            var fields: [String: JSONTree] = [:]
            for key in object.allKeys { fields[key.stringValue] = try object.decode(JSONTree.self, forKey: key) }
            self = .object(fields)
        } else if var array = try? decoder.unkeyedContainer() {
            var items: [JSONTree] = []
            while !array.isAtEnd { items.append(try array.decode(JSONTree.self)) }
            self = .array(items)
        } else {
            let value = try decoder.singleValueContainer()
            if value.decodeNil() {
                self = .null
            } else if let bool = try? value.decode(Bool.self) {
                self = .bool(bool)
            } else if let number = try? value.decode(Double.self) {
                self = .number(number)
            } else {
                self = .string(try value.decode(String.self))
            }
        }
    }

    subscript(key: String) -> JSONTree? {
        if case .object(let fields) = self { return fields[key] }
        return nil
    }

    subscript(index: Int) -> JSONTree? {
        if case .array(let items) = self, items.indices.contains(index) { return items[index] }
        return nil
    }

    /// Every object key in the document, at any depth, except beneath the fields named in `skipping`.
    func keys(skipping: Set<String>) -> [String] {
        switch self {
        case .object(let fields):
            fields.flatMap { key, value in [key] + (skipping.contains(key) ? [] : value.keys(skipping: skipping)) }
        case .array(let items): items.flatMap { $0.keys(skipping: skipping) }
        default: []
        }
    }
}
