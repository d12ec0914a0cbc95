import CordonTestSupport
import Foundation
import Glibc
import Testing

/// `cordon sync NAME --branch B` in real sandboxes against a real git repository: one commit on
/// a new branch, HEAD's tree plus exactly the changes the gate let through, and the host's
/// working tree, index, HEAD and branches as they were.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct SyncBranchTests {
    static let token = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
    static let git = "/usr/bin/git"

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// `git -C DIR ARGS`, with an identity of its own and no user config.
    @discardableResult
    static func git(_ h: SandboxHarness, _ directory: String, _ arguments: [String]) async throws -> ProcessResult {
        let env = [
            "HOME": h.home, "PATH": "/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
            "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
        ]
        return try await SandboxHarness.run([git, "-C", directory] + arguments, environment: env)
    }

    static func out(_ h: SandboxHarness, _ directory: String, _ arguments: [String]) async throws -> String {
        let r = try await git(h, directory, arguments)
        #expect(r.status == 0, "git \(arguments): \(r.stderr)")
        return r.stdout.trimmingCharacters(in: .newlines)
    }

    /// A repository in `directory` with one commit of `files` (path → content).
    static func makeRepository(_ h: SandboxHarness, _ directory: String, files: [String: String], executable: [String] = []) async throws {
        for (path, content) in files { try h.write(path, content, in: directory) }
        for path in executable { chmod(directory + "/" + path, 0o755) }
        _ = try await out(h, directory, ["init", "-q", "-b", "main"])
        _ = try await out(h, directory, ["config", "user.name", "Repo Owner"])
        _ = try await out(h, directory, ["config", "user.email", "owner@example.com"])
        if !files.isEmpty {
            _ = try await out(h, directory, ["add", "-A"])
            _ = try await out(h, directory, ["commit", "-q", "-m", "initial"])
        }
    }

    /// Everything of the host's checkout a --branch sync must leave alone: every file of the
    /// working tree and of .git except the object store and the branch refs, byte for byte.
    static func hostState(_ root: String) throws -> [String: Data] {
        var state: [String: Data] = [:]
        let fm = FileManager.default
        guard let walker = fm.enumerator(atPath: root) else { return state }
        while let relative = walker.nextObject() as? String {
            if relative.hasPrefix(".git/objects") || relative.hasPrefix(".git/refs/heads") || relative.hasPrefix(".git/logs/refs/heads") { continue }
            let path = root + "/" + relative
            var st = stat()
            guard lstat(path, &st) == 0 else { continue }
            switch st.st_mode & S_IFMT {
            case S_IFREG: state[relative] = (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data() + Data("mode \(st.st_mode)".utf8)
            case S_IFLNK: state[relative] = Data(((try? fm.destinationOfSymbolicLink(atPath: path)) ?? "?").utf8)
            default: state[relative] = Data("dir \(st.st_mode)".utf8)
            }
            state[relative, default: Data()] += Data(" mode \(st.st_mode)".utf8)
        }
        return state
    }

    /// `git ls-tree -r` of `treeish`: path → "MODE ID", paths as git prints them with -z (exact bytes).
    static func tree(_ h: SandboxHarness, _ directory: String, _ treeish: String) async throws -> [String: String] {
        let listed = try await git(h, directory, ["ls-tree", "-r", "-z", "--full-tree", treeish])
        var entries: [String: String] = [:]
        for record in listed.stdout.split(separator: "\0") {
            let parts = record.split(separator: "\t", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let fields = parts[0].split(separator: " ")
            entries[String(parts[1])] = "\(fields[0]) \(fields[2])"
        }
        return entries
    }

    /// The blob id git gives `content`.
    static func blob(_ h: SandboxHarness, _ directory: String, _ content: String) async throws -> String {
        let r = try await SandboxHarness.run([git, "hash-object", "--stdin"], environment: ["PATH": "/usr/bin:/bin"], stdin: content)
        return r.stdout.trimmingCharacters(in: .newlines)
    }

    @Test(.enabled(if: SandboxHarness.namespacesAvailable, "needs user namespaces"))
    func aBranchGetsExactlyOneCommitOfTheChangesAndTheCheckoutIsUntouched() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let ws = h.workspace
        try await Self.makeRepository(
            h, ws, files: ["keep.txt": "keep\n", "mod.txt": "old\n", "del.txt": "bye\n", "run.sh": "#!/bin/sh\necho hi\n", "dir/a.txt": "a\n"])
        // The user's own uncommitted work stays theirs: not in the commit, untouched on the host.
        try h.write("mod.txt", "old, edited by the user\n")
        let head = try await Self.out(h, ws, ["rev-parse", "HEAD"])
        let headTree = try await Self.tree(h, ws, "HEAD")
        let made = try await h.sandbox(
            """
            cd /workspace && echo new > mod.txt && echo added > new.txt && mkdir -p sub/deep && echo deep > sub/deep/x.txt \
            && rm del.txt && chmod +x run.sh && ln -s keep.txt link && rm -r dir
            """, name: "feat")
        #expect(made.status == 0, "\(made.stderr)")
        let before = try Self.hostState(ws)

        // --yes: the new executable bit waits for approval (trap-executable-bit), as in a plain sync.
        let sync = try await h.cordon(["sync", "feat", "--branch", "feature", "--yes", "--json"])
        #expect(sync.status == 0, "\(sync.stdout)\(sync.stderr)")
        let report = try Self.json(sync.stdout)
        #expect(report["branch"] as? String == "feature")
        let commit = try #require(report["commit"] as? String)
        #expect(try await Self.out(h, ws, ["rev-parse", "feature"]) == commit)
        #expect(try await Self.out(h, ws, ["rev-parse", "feature^"]) == head, "one commit on top of HEAD")
        #expect(try await Self.out(h, ws, ["rev-list", "--count", "feature"]) == "2")

        var expected = headTree
        expected["mod.txt"] = "100644 " + (try await Self.blob(h, ws, "new\n"))
        expected["new.txt"] = "100644 " + (try await Self.blob(h, ws, "added\n"))
        expected["sub/deep/x.txt"] = "100644 " + (try await Self.blob(h, ws, "deep\n"))
        expected["del.txt"] = nil
        expected["dir/a.txt"] = nil
        expected["run.sh"] = "100755 " + (try await Self.blob(h, ws, "#!/bin/sh\necho hi\n"))
        expected["link"] = "120000 " + (try await Self.blob(h, ws, "keep.txt"))
        #expect(try await Self.tree(h, ws, "feature") == expected)
        #expect(try await Self.out(h, ws, ["show", "feature:mod.txt"]) == "new")
        let message = try await Self.out(h, ws, ["log", "-1", "--format=%an <%ae>|%cn <%ce>|%B", "feature"])
        #expect(message.hasPrefix("Repo Owner <owner@example.com>|Repo Owner <owner@example.com>|cordon: changes from sandbox feat"), "\(message)")
        #expect(message.contains("M\tmod.txt") && message.contains("D\tdel.txt") && message.contains("A\tlink"), "\(message)")

        // The checkout: working tree, index, HEAD, config, every other file of .git, byte for byte.
        #expect(try Self.hostState(ws) == before)
        #expect(try await Self.out(h, ws, ["rev-parse", "HEAD"]) == head)
        #expect(try await Self.out(h, ws, ["symbolic-ref", "HEAD"]) == "refs/heads/main")
        #expect((try? String(contentsOfFile: ws + "/del.txt", encoding: .utf8)) == "bye\n")

        // Synced: the stopped sandbox's upper no longer holds them.
        let diff = try Self.json(try await h.cordon(["diff", "feat", "--json"]).stdout)
        #expect((diff["changes"] as? [Any])?.isEmpty == true, "\(diff)")
        // The audit log names the branch and the commit.
        let audit = try String(contentsOfFile: h.state + "/cordon/sandboxes/feat/audit.jsonl", encoding: .utf8)
        let record = try #require(audit.split(separator: "\n").last { $0.contains("\"kind\":\"sync\"") })
        #expect(record.contains("\"branch\":\"feature\"") && record.contains("\"commit\":\"\(commit)\""), "\(record)")
    }

    @Test(.enabled(if: SandboxHarness.namespacesAvailable, "needs user namespaces"))
    func aSecretIsNeverCommittedAndPartialCommitsTheRest() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let ws = h.workspace
        try await Self.makeRepository(h, ws, files: ["README": "hi\n"])
        let made = try await h.sandbox("cd /workspace && echo clean > clean.txt && echo 'GITHUB_TOKEN=\(Self.token)' > creds.txt", name: "sec")
        #expect(made.status == 0, "\(made.stderr)")

        let held = try await h.cordon(["sync", "sec", "--branch", "b1"])
        #expect(held.status == 1, "\(held.stdout)\(held.stderr)")
        #expect(try await Self.git(h, ws, ["rev-parse", "--verify", "--quiet", "refs/heads/b1"]).status != 0, "a held set made a branch")

        let partial = try await h.cordon(["sync", "sec", "--branch", "b1", "--partial", "--json"])
        #expect(partial.status == 1, "\(partial.stdout)\(partial.stderr)")
        let report = try Self.json(partial.stdout)
        #expect(report["held"] as? [String] == ["creds.txt"])
        let tree = try await Self.tree(h, ws, "b1")
        #expect(Set(tree.keys) == ["README", "clean.txt"])
        let everything = try await Self.git(h, ws, ["log", "-p", "--all"])
        #expect(!everything.stdout.contains(Self.token))
        // The held file is still the sandbox's, for a later look.
        let diff = try Self.json(try await h.cordon(["diff", "sec", "--json"]).stdout)
        #expect((diff["changes"] as? [[String: Any]])?.map { $0["path"] as? String } == ["creds.txt"])
    }

    @Test(.enabled(if: SandboxHarness.namespacesAvailable, "needs user namespaces"))
    func refusalsNameTheProblemAndChangeNothing() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let ws = h.workspace
        let made = try await h.sandbox("cd /workspace && echo x > x.txt", name: "ref")
        #expect(made.status == 0, "\(made.stderr)")
        // Not a repository.
        let none = try await h.cordon(["sync", "ref", "--branch", "x"])
        #expect(none.status == 2)
        #expect(none.stderr.contains("is not in a git repository"), "\(none.stderr)")
        #expect(none.stderr.contains("git init"), "\(none.stderr)")

        try await Self.makeRepository(h, ws, files: ["README": "hi\n"])
        _ = try await Self.out(h, ws, ["branch", "taken"])
        let taken = try await Self.out(h, ws, ["rev-parse", "taken"])
        let exists = try await h.cordon(["sync", "ref", "--branch", "taken"])
        #expect(exists.status == 2)
        #expect(exists.stderr.contains("branch taken already exists"), "\(exists.stderr)")
        #expect(try await Self.out(h, ws, ["rev-parse", "taken"]) == taken)

        for bad in ["a..b", "-x", "@{-1}", "HEAD", "with space", "ends.lock"] {
            let refused = try await h.cordon(["sync", "ref", "--branch=" + bad])
            #expect(refused.status == 2, "\(bad): \(refused.stdout)")
            #expect(refused.stderr.contains("is not a valid branch name"), "\(bad): \(refused.stderr)")
        }
        for author in ["nobody", "Name <a@b> x", "<a@b>", "Name <a b@c>", "Na<me <a@b>"] {
            let refused = try await h.cordon(["sync", "ref", "--branch", "ok", "--author", author])
            #expect(refused.status == 2, "\(author): \(refused.stdout)")
            #expect(refused.stderr.contains("--author"), "\(author): \(refused.stderr)")
        }
        let refs = try await Self.out(h, ws, ["for-each-ref", "--format=%(refname)"])
        #expect(refs == "refs/heads/main\nrefs/heads/taken", "\(refs)")
        // Nothing was synced by any of them.
        #expect(!FileManager.default.fileExists(atPath: ws + "/x.txt"))
        let diff = try Self.json(try await h.cordon(["diff", "ref", "--json"]).stdout)
        #expect((diff["changes"] as? [Any])?.count == 1)

        // A bare repository holding the workspace.
        let bare = h.root + "/bare.git"
        _ = try await SandboxHarness.run([Self.git, "init", "-q", "--bare", bare], environment: ["PATH": "/usr/bin:/bin"])
        let inBare = try await h.cordon(["run", "--name", "bare", "--workspace", bare, "--", "/bin/sh", "-c", "echo y > /workspace/y"])
        #expect(inBare.status == 0, "\(inBare.stderr)")
        let bareSync = try await h.cordon(["sync", "bare", "--branch", "x"])
        #expect(bareSync.status == 2)
        #expect(bareSync.stderr.contains("not in a git work tree"), "\(bareSync.stderr)")
    }

    @Test(.enabled(if: SandboxHarness.namespacesAvailable, "needs user namespaces"))
    func hostileNamesLandExactlyAndUnsafeOnesAreHeld() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let ws = h.workspace
        try await Self.makeRepository(h, ws, files: ["README": "hi\n"])
        let made = try await h.sandbox(
            #"cd /workspace && printf 1 > "$(printf 'new\nline')" && printf 2 > -x && printf 3 > 'qu"ote' && printf 4 > 'back\slash' && printf 5 > ' lead' && printf 6 > "$(printf 'bad\377')" && printf 7 > --help && printf 8 > "$(printf 'caf\303\251')""#,
            name: "names")
        #expect(made.status == 0, "\(made.stderr)")
        let sync = try await h.cordon(["sync", "names", "--branch", "names", "--partial", "--json"])
        #expect(sync.status == 1, "\(sync.stdout)\(sync.stderr)")
        // The gate blocks a name with a control character and one that is not UTF-8: never committed.
        #expect(Set(try Self.json(sync.stdout)["held"] as? [String] ?? []) == [#"bad\xFF"#, "new\nline"])
        let tree = try await Self.tree(h, ws, "names")
        #expect(Set(tree.keys) == ["README", "-x", "qu\"ote", "back\\slash", " lead", "--help", "café"])
        #expect(try await Self.out(h, ws, ["show", "names:-x"]) == "2")
        #expect(try await Self.out(h, ws, ["show", "names:--help"]) == "7")
        #expect(try await Self.out(h, ws, ["show", "names: lead"]) == "5")
        let log = try await Self.out(h, ws, ["log", "-1", "--format=%B", "names"])
        #expect(log.contains("A\t" + #""qu\"ote""#) && log.contains("A\t" + #""caf\303\251""#) && log.contains("A\t-x\n"), "\(log)")
    }

    @Test(.enabled(if: SandboxHarness.namespacesAvailable, "needs user namespaces"))
    func aWorkspaceInASubdirectoryCommitsUnderItsPrefix() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let ws = h.workspace
        try await Self.makeRepository(h, ws, files: ["top.txt": "top\n", "pkg/lib.txt": "lib\n"])
        let made = try await h.cordon(
            ["run", "--name", "sub", "--workspace", ws + "/pkg", "--", "/bin/sh", "-c", "cd /workspace && echo more >> lib.txt && echo n > n.txt"])
        #expect(made.status == 0, "\(made.stderr)")
        let sync = try await h.cordon(["sync", "sub", "--branch", "pkg-work", "--author", "Agent Smith <agent@example.com>", "--message", "Agent work"])
        #expect(sync.status == 0, "\(sync.stdout)\(sync.stderr)")
        #expect(sync.stdout.contains("as new branch pkg-work"), "\(sync.stdout)")
        let tree = try await Self.tree(h, ws, "pkg-work")
        #expect(Set(tree.keys) == ["top.txt", "pkg/lib.txt", "pkg/n.txt"])
        #expect(try await Self.out(h, ws, ["show", "pkg-work:pkg/lib.txt"]) == "lib\nmore")
        #expect(try await Self.out(h, ws, ["log", "-1", "--format=%an <%ae>|%cn|%B", "pkg-work"]) == "Agent Smith <agent@example.com>|Repo Owner|Agent work")
    }

    @Test(.enabled(if: SandboxHarness.namespacesAvailable, "needs user namespaces"))
    func aDryRunSaysWhatItWouldCommitAndMakesNothing() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let ws = h.workspace
        try await Self.makeRepository(h, ws, files: ["README": "hi\n"])
        let made = try await h.sandbox("cd /workspace && echo a > a.txt", name: "dry")
        #expect(made.status == 0, "\(made.stderr)")
        let before = try Self.hostState(ws)
        let objects = try await Self.out(h, ws, ["count-objects", "-v"])
        let dry = try await h.cordon(["sync", "dry", "--branch", "later", "--dry-run"])
        #expect(dry.status == 0, "\(dry.stdout)\(dry.stderr)")
        #expect(dry.stdout.contains("dry run: would apply 1 change to new branch later of \(ws)"), "\(dry.stdout)")
        #expect(dry.stdout.contains("dry run: would commit on top of"), "\(dry.stdout)")
        let json = try Self.json(try await h.cordon(["sync", "dry", "--branch", "later", "--dry-run", "--json"]).stdout)
        #expect(json["branch"] as? String == "later" && json["commit"] == nil && json["applied"] as? [String] == ["a.txt"])
        #expect(try Self.hostState(ws) == before)
        #expect(try await Self.out(h, ws, ["count-objects", "-v"]) == objects, "a dry run wrote objects")
        #expect(try await Self.git(h, ws, ["rev-parse", "--verify", "--quiet", "refs/heads/later"]).status != 0)
        let diff = try Self.json(try await h.cordon(["diff", "dry", "--json"]).stdout)
        #expect((diff["changes"] as? [Any])?.count == 1)
    }

    @Test(.enabled(if: SandboxHarness.namespacesAvailable, "needs user namespaces"))
    func twoSandboxesOnOneRepositoryMakeTwoBranches() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let ws = h.workspace
        try await Self.makeRepository(h, ws, files: ["shared.txt": "base\n"])
        let head = try await Self.out(h, ws, ["rev-parse", "HEAD"])
        for (name, text) in [("one", "first"), ("two", "second")] {
            let made = try await h.sandbox("cd /workspace && echo \(text) > shared.txt && echo \(text) > \(name).txt", name: name)
            #expect(made.status == 0, "\(made.stderr)")
        }
        for name in ["one", "two"] {
            let sync = try await h.cordon(["sync", name, "--branch", "agent/\(name)"])
            #expect(sync.status == 0, "\(sync.stdout)\(sync.stderr)")
        }
        #expect(try await Self.out(h, ws, ["show", "agent/one:shared.txt"]) == "first")
        #expect(try await Self.out(h, ws, ["show", "agent/two:shared.txt"]) == "second")
        #expect(Set(try await Self.tree(h, ws, "agent/one").keys) == ["shared.txt", "one.txt"])
        #expect(Set(try await Self.tree(h, ws, "agent/two").keys) == ["shared.txt", "two.txt"])
        #expect(try await Self.out(h, ws, ["rev-parse", "agent/one^", "agent/two^"]) == "\(head)\n\(head)")
        #expect((try? String(contentsOfFile: ws + "/shared.txt", encoding: .utf8)) == "base\n")
    }

    /// The host repository's hooks never run (update-ref would run reference-transaction), and a
    /// `.git` path the user approves with --yes is never slipped into the tree: git drops such a
    /// path with only a warning, and the commit fails instead of leaving it out silently.
    @Test(.enabled(if: SandboxHarness.namespacesAvailable, "needs user namespaces"))
    func hooksDoNotRunAndGitPathsFailClosed() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let ws = h.workspace
        try await Self.makeRepository(h, ws, files: ["README": "hi\n"])
        let marker = h.root + "/hook-ran"
        for hook in ["reference-transaction", "post-commit", "pre-commit"] {
            try h.write(".git/hooks/" + hook, "#!/bin/sh\ntouch \(marker)\n", in: ws)
            chmod(ws + "/.git/hooks/" + hook, 0o755)
        }
        let made = try await h.sandbox("cd /workspace && echo a > a.txt", name: "hooks")
        #expect(made.status == 0, "\(made.stderr)")
        let sync = try await h.cordon(["sync", "hooks", "--branch", "hooked"])
        #expect(sync.status == 0, "\(sync.stdout)\(sync.stderr)")
        #expect(!FileManager.default.fileExists(atPath: marker), "a repository hook ran")

        let planted = try await h.sandbox("cd /workspace && mkdir -p sub/.git && echo x > sub/.git/config && echo b > b.txt", name: "gitpath")
        #expect(planted.status == 0, "\(planted.stderr)")
        let refused = try await h.cordon(["sync", "gitpath", "--branch", "gitpath", "--yes"])
        #expect(refused.status == 2, "\(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains("git refused part of the change set"), "\(refused.stderr)")
        #expect(try await Self.git(h, ws, ["rev-parse", "--verify", "--quiet", "refs/heads/gitpath"]).status != 0)
    }

    @Test(.enabled(if: SandboxHarness.namespacesAvailable, "needs user namespaces"))
    func anUnbornHeadGetsACommitWithoutParent() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let ws = h.workspace
        try await Self.makeRepository(h, ws, files: [:])
        let made = try await h.sandbox("cd /workspace && echo first > first.txt", name: "unborn")
        #expect(made.status == 0, "\(made.stderr)")
        let sync = try await h.cordon(["sync", "unborn", "--branch", "start"])
        #expect(sync.status == 0, "\(sync.stdout)\(sync.stderr)")
        #expect(try await Self.out(h, ws, ["rev-list", "--count", "start"]) == "1")
        #expect(Set(try await Self.tree(h, ws, "start").keys) == ["first.txt"])
        #expect(try await Self.git(h, ws, ["rev-parse", "--verify", "--quiet", "HEAD"]).status != 0, "HEAD stays unborn")
    }

    /// A running agent rewrites a file as fast as it can, clean and secret in turn, while it is
    /// synced to branches: what is committed is the copy the gate checked (the snapshot), never the
    /// file as the agent left it a moment later, so no commit ever holds the secret. The running
    /// sandbox's upper keeps its changes (it is mounted).
    @Test(.enabled(if: SandboxHarness.namespacesAvailable, "needs user namespaces"))
    func aRunningAgentCannotSwapAFileAfterTheCheck() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let ws = h.workspace
        try await Self.makeRepository(h, ws, files: ["README": "hi\n"])
        let signals = h.root + "/signals"
        try FileManager.default.createDirectory(atPath: signals, withIntermediateDirectories: true)
        try h.write("profile.yaml", "name: live\nmounts:\n  - {host: \(signals), sandbox: /signals}\n", in: h.root)
        // Rewritten in place (`1<>`: no truncation), one write each, the same length: the file
        // always holds one or the other.
        let secret = "GITHUB_TOKEN=\(Self.token)\\n"
        let clean = "CLEAN_VALUE=" + String(repeating: "x", count: Self.token.count) + "\\n"
        let script = """
            cd /workspace && printf '\(clean)' > flip.txt && printf ok > ready.txt && n=0; \
            while [ ! -e /signals/stop ] && [ $n -lt 2000000 ]; do printf '\(secret)' 1<> flip.txt; printf '\(clean)' 1<> flip.txt; n=$((n+1)); done
            """
        async let run = h.cordon(
            ["run", "--profile", h.root + "/profile.yaml", "--workspace", ws, "--name", "live", "--", "/bin/sh", "-c", script], timeout: 150)
        let ready = h.state + "/cordon/sandboxes/live/upper/ready.txt"
        let deadline = ContinuousClock.now + .seconds(60)
        while !FileManager.default.fileExists(atPath: ready) && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(FileManager.default.fileExists(atPath: ready), "the agent never started")
        var committed = 0
        for attempt in 1...6 {
            let sync = try await h.cordon(["sync", "live", "--branch", "live-\(attempt)", "--partial", "--json"])
            #expect(sync.status == 0 || sync.status == 1, "\(sync.stdout)\(sync.stderr)")
            guard (try? Self.json(sync.stdout))?["commit"] is String else { continue }
            committed += 1
            let listed = try await Self.tree(h, ws, "live-\(attempt)")
            if listed["flip.txt"] != nil {
                // Whatever was committed is bytes the scanner passes (the copy the gate read).
                let content = try await Self.out(h, ws, ["show", "live-\(attempt):flip.txt"])
                try h.write("committed-\(attempt).txt", content + "\n", in: h.root)
                let scan = try await h.cordon(["scan", h.root + "/committed-\(attempt).txt"])
                #expect(scan.status == 0, "attempt \(attempt) committed bytes the gate never passed: \(content)")
            }
        }
        #expect(committed > 0, "no sync committed anything")
        #expect(FileManager.default.createFile(atPath: signals + "/stop", contents: Data()))
        let r = try await run
        #expect(r.status == 0, "\(r.stderr)")
        // Synced while running: the upper keeps the changes (the overlay was mounted over it).
        let diff = try Self.json(try await h.cordon(["diff", "live", "--json"]).stdout)
        let paths = Set((diff["changes"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String })
        #expect(paths == ["flip.txt", "ready.txt"], "\(paths)")
        let all = try await Self.git(h, ws, ["log", "-p", "--all"])
        #expect(!all.stdout.contains(Self.token))
    }

    /// New files git ignores (a node_modules, a log) are not committed and stay in the sandbox; a
    /// file HEAD tracks is committed even when a pattern matches it.
    @Test(.enabled(if: SandboxHarness.namespacesAvailable, "needs user namespaces"))
    func newFilesGitIgnoresStayOutOfTheCommit() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let ws = h.workspace
        try await Self.makeRepository(h, ws, files: [".gitignore": "node_modules/\n*.log\n"])
        try h.write("keep.log", "tracked\n")
        _ = try await Self.out(h, ws, ["add", "-f", "keep.log"])
        _ = try await Self.out(h, ws, ["commit", "-q", "-m", "tracked log"])
        let made = try await h.sandbox(
            "cd /workspace && mkdir -p node_modules/dep && echo x > node_modules/dep/index.js && echo b > build.log && echo more >> keep.log && echo s > src.txt",
            name: "ign")
        #expect(made.status == 0, "\(made.stderr)")
        let dry = try Self.json(try await h.cordon(["sync", "ign", "--branch", "deps", "--dry-run", "--json"]).stdout)
        #expect(Set(dry["applied"] as? [String] ?? []) == ["keep.log", "src.txt", "node_modules", "node_modules/dep"], "\(dry)")
        let sync = try await h.cordon(["sync", "ign", "--branch", "deps", "--json"])
        #expect(sync.status == 0, "\(sync.stdout)\(sync.stderr)")
        let report = try Self.json(sync.stdout)
        #expect(Set(report["ignored"] as? [String] ?? []) == ["build.log", "node_modules/dep/index.js"], "\(report)")
        #expect(Set(try await Self.tree(h, ws, "deps").keys) == [".gitignore", "keep.log", "src.txt"])
        #expect(try await Self.out(h, ws, ["show", "deps:keep.log"]) == "tracked\nmore")
        let diff = try Self.json(try await h.cordon(["diff", "ign", "--json"]).stdout)
        let left = Set((diff["changes"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String })
        #expect(left.isSuperset(of: ["build.log", "node_modules/dep/index.js"]) && !left.contains("src.txt"), "\(left)")
    }
}
