import CordonTestSupport
import CordonCore
@testable import CordonFS
@testable import CordonGate
import CordonScan
import FoundationEssentials
import Glibc
import Testing

@Suite struct SyncGateTests {
    func evaluate(_ build: (TempTree, TempTree) -> Void, policy: GatePolicy = GatePolicy(), created: Date? = nil) throws -> SyncGate.Report {
        let lower = try TempTree()
        let upper = try TempTree()
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

    /// A secret carried in a file's name or a symlink's target leaves through the sync as surely
    /// as one inside a file.
    @Test func secretsInNamesAndLinkTargetsAreFound() throws {
        let token = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
        let report = try evaluate { _, upper in
            upper.write("notes/\(token).txt", "harmless\n")
            upper.symlink("link", to: "../\(token)")
            upper.write("plain.txt", "harmless\n")
        }
        #expect(rules(report, "notes/\(token).txt").contains("github-token"), "\(report.findings)")
        #expect(rules(report, "link").contains("github-token"), "\(report.findings)")
        let named = try #require(report.findings.first { $0.path == "notes/\(token).txt" && $0.ruleID == "github-token" })
        #expect(named.message.hasPrefix("in the name:") && named.fix.hasPrefix("rename it inside the sandbox"), "\(named)")
        #expect(rules(report, "plain.txt").isEmpty)
        #expect(!rules(report, "notes").contains("github-token"), "a directory is not blamed for its child's name")
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
        let report = try evaluate(
            { _, upper in
                upper.write("PK.md", "PK is a primary key\n")
                upper.write("short.tar", "ustar")
            }, policy: GatePolicy(flagArchives: true))
        #expect(report.findings.filter { $0.ruleID == "path-archive" }.isEmpty)
    }
}

/// Symlinks resolved as the kernel will once applied, and names shown as they are.
@Suite struct HostileLinkAndNameTests {
    func evaluate(_ build: (TempTree, TempTree) -> Void) throws -> SyncGate.Report {
        let lower = try TempTree()
        let upper = try TempTree()
        build(lower, upper)
        return try SyncGate(policy: GatePolicy()).evaluate(try ChangeSet.read(upper: upper.root, lower: lower.root), created: nil)
    }

    @Test func aLinkChainedThroughAHostSymlinkIsAnEscape() throws {
        let outside = try TempTree()
        let report = try evaluate { lower, upper in
            lower.symlink("link", to: outside.root)
            upper.symlink("x", to: "link/passwd")
        }
        #expect(report.findings.contains { $0.ruleID == "fs-symlink-escape" && $0.path == "x" }, "\(report.findings.map(\.ruleID))")
    }

    @Test func aLinkChainedThroughTheChangeSetsOwnLinksIsAnEscape() throws {
        let report = try evaluate { _, upper in
            upper.mkdir("a/b")
            upper.symlink("a/b/up", to: "..")  // inside: a
            upper.symlink("a/x", to: "b/up/b/up/../../etc")  // a/b/up -> a, twice, then up twice: above the root
        }
        #expect(report.findings.contains { $0.ruleID == "fs-symlink-escape" && $0.path == "a/x" }, "\(report.findings.map(\.ruleID))")
        #expect(!report.findings.contains { $0.ruleID == "fs-symlink-escape" && $0.path == "a/b/up" })
    }

    @Test func aLinkLoopIsRefusedAndAnInnerChainIsFine() throws {
        let report = try evaluate { lower, upper in
            upper.symlink("loop1", to: "loop2")
            upper.symlink("loop2", to: "loop1/x")
            lower.write("docs/readme.md", "hi\n")
            lower.symlink("docs/current", to: "readme.md")
            upper.symlink("latest", to: "docs/current")
        }
        #expect(report.findings.contains { $0.ruleID == "fs-symlink-escape" && $0.path == "loop1" })
        #expect(!report.findings.contains { $0.path == "latest" }, "\(report.findings.map(\.ruleID))")
    }

    @Test func theApplierResolvesLinksAgainstTheHostAsItIsAtApplyTime() throws {
        let lower = try TempTree()
        let upper = try TempTree()
        let state = try TempTree()
        let outside = try TempTree()
        lower.mkdir("link")
        upper.symlink("x", to: "link/passwd")
        let set = try ChangeSet.read(upper: upper.root, lower: lower.root)
        let report = try SyncGate(policy: GatePolicy()).evaluate(set, created: nil)
        #expect(!report.findings.contains { $0.ruleID == "fs-symlink-escape" })
        // Between the gate and the apply, `link` becomes a symlink out of the workspace.
        #expect(rmdir(lower.path("link")) == 0)
        lower.symlink("link", to: outside.root)
        let applier = SyncApplier(workspace: lower.root, upper: upper.root, journalPath: state.path("journal.json"))
        #expect(throws: CordonError.self) { try applier.apply(set.changes) }
        var st = stat()
        #expect(lstat(lower.path("x"), &st) != 0, "the escaping link was applied")
        #expect(!state.exists("journal.json"))
    }

    @Test(arguments: ["\u{202E}gpj.exe", "a\u{200B}b.txt", "x\u{1B}[2J.txt", "a\u{85}b"])
    func namesThatChangeHowTheyReadAreHeld(name: String) throws {
        let report = try evaluate { _, upper in upper.write(name, "x\n") }
        let held = report.findings.filter { $0.path == name && $0.severity == .block }.map(\.ruleID)
        #expect(held.contains("fs-bidi-name") || held.contains("fs-control-char"), "\(report.findings)")
        for finding in report.findings {
            #expect(!finding.rendered.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x202E || $0.value == 0x85 }, "\(finding.rendered)")
        }
    }

    @Test func aSymlinkTargetWithEscapeSequencesIsHeldAndShownEscaped() throws {
        let report = try evaluate { _, upper in upper.symlink("l", to: "x\u{1B}[1A\u{1B}[2K") }
        let finding = try #require(report.findings.first { $0.ruleID == "fs-symlink-target-chars" })
        #expect(!finding.rendered.contains("\u{1B}"))
        #expect(finding.rendered.contains("\\x1B[1A"))
    }

    @Test func whiteoutAndUnreadableNamesAreBlocked() throws {
        let report = try evaluate { _, upper in
            upper.write(".wh..", "")
            let name = Array(upper.root.utf8) + Array("/bad".utf8) + [0xFF, 0]
            let fd = name.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_WRONLY | O_CREAT, 0o644) } }
            close(fd)
        }
        #expect(report.findings.contains { $0.ruleID == "fs-unsafe-name" && $0.path == ".wh.." && $0.severity == .block })
        #expect(report.findings.contains { $0.ruleID == "fs-unsafe-name" && $0.path == "bad\\xFF" && $0.severity == .block })
    }
}

/// The sandbox's own policy is out of its reach: the profile in use and what it names, cordon's
/// config and state, never change through a sync, whatever the flags.
@Suite struct ProtectedPolicyTests {
    @Test func theProfileInUseNeverSyncsEvenApproved() throws {
        let lower = try TempTree()
        let upper = try TempTree()
        lower.write("cordon.yaml", "name: work\n")
        upper.write("cordon.yaml", "name: work\nmounts:\n  - {host: /, sandbox: /host, mode: rw}\n")
        upper.write("conf/blocklist.txt", "")
        upper.write("ok.txt", "fine\n")
        var policy = GatePolicy()
        policy.protectedPaths = ProtectedPath.inside(
            workspace: lower.root,
            files: [(lower.path("cordon.yaml"), "the profile"), (lower.path("conf/blocklist.txt"), "a blocklist"), ("/etc/elsewhere", "outside")])
        #expect(policy.protectedPaths.map(\.path) == ["cordon.yaml", "conf/blocklist.txt"])
        let report = try SyncGate(policy: policy).evaluate(try ChangeSet.read(upper: upper.root, lower: lower.root), created: nil)
        #expect(report.findings.contains { $0.ruleID == "policy-protected" && $0.path == "cordon.yaml" && $0.severity == .block })
        #expect(report.findings.contains { $0.ruleID == "policy-protected" && $0.path == "conf/blocklist.txt" })
        #expect(!report.findings.contains { $0.path == "ok.txt" })
        // --yes and --force approve and overwrite; a block stays held.
        let plan = SyncPlan(report: report, approve: true, force: true)
        #expect(Set(plan.held.map(\.path)).isSuperset(of: ["cordon.yaml", "conf/blocklist.txt"]))
    }

    @Test func removingOrReplacingTheDirectoryAboveTheProfileIsBlocked() throws {
        let lower = try TempTree()
        let upper = try TempTree()
        lower.write("conf/cordon.yaml", "name: work\n")
        upper.mkdir("conf")
        upper.opaque("conf")
        upper.write("conf/other.txt", "x")
        var policy = GatePolicy()
        policy.protectedPaths = [ProtectedPath(path: "conf/cordon.yaml", what: "the profile")]
        let report = try SyncGate(policy: policy).evaluate(try ChangeSet.read(upper: upper.root, lower: lower.root), created: nil)
        #expect(report.findings.contains { $0.ruleID == "policy-protected" && $0.path == "conf" }, "\(report.findings.map { "\($0.ruleID) \($0.path)" })")
        #expect(report.findings.contains { $0.ruleID == "policy-protected" && $0.path == "conf/cordon.yaml" })
    }

    @Test func aSymlinkedSpellingOfTheWorkspaceStillFindsTheProfile() throws {
        let tree = try TempTree()
        tree.write("real/cordon.yaml", "name: w\n")
        tree.symlink("alias", to: tree.path("real"))
        let found = ProtectedPath.inside(workspace: tree.path("alias"), files: [(tree.path("real/cordon.yaml"), "the profile")])
        #expect(found.map(\.path) == ["cordon.yaml"])
    }
}
