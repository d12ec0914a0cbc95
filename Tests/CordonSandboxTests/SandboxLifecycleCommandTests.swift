import CordonTestSupport
import Foundation
import Glibc
import Testing

/// `cordon ls`, `status`, `rm`, `prune` and `discard` on real sandboxes, the one wording of an
/// unknown name, and a one-shot run that leaves nothing behind.
@Suite(.serialized, .timeLimit(.minutes(5)), .enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"))
struct SandboxLifecycleCommandTests {
    func sandboxDirectory(_ h: SandboxHarness, _ name: String) -> String { h.state + "/cordon/sandboxes/" + name }

    func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
    }

    func listed(_ h: SandboxHarness, all: Bool = false) async throws -> [String: [String: Any]] {
        let r = try await h.cordon(["ls", "--json"] + (all ? ["--all"] : []))
        #expect(r.status == 0, "\(r.stderr)")
        let document = try json(r.stdout)
        #expect(document["version"] as? Int == 1)
        let items = try #require(document["sandboxes"] as? [[String: Any]], "\(r.stdout)")
        return Dictionary(uniqueKeysWithValues: items.map { ($0["name"] as? String ?? "?", $0) })
    }

    /// Every command that takes a sandbox name says the same of an unknown one, names no
    /// internal path (`sync` printed its lock's, `diff` told the user to `ls` the state dir) and
    /// points at `cordon ls`.
    @Test(arguments: [
        ["diff", "nosuch"], ["sync", "nosuch"], ["net", "log", "nosuch"], ["approvals", "nosuch"], ["allow", "nosuch", "example.com"],
        ["deny", "nosuch", "example.com"], ["status", "nosuch"], ["rm", "nosuch"], ["discard", "nosuch"], ["discard", "nosuch", "a.txt"],
    ])
    func anUnknownNameIsSaidOneWay(arguments: [String]) async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let r = try await h.cordon(arguments)
        #expect(r.status == 2, "\(r)")
        #expect(r.stderr == "cordon: no sandbox named \"nosuch\"\n  fix: see `cordon ls`\n", "\(r.stderr)")
        #expect(!r.stderr.contains(h.state), "\(r.stderr)")
    }

    /// ls lists what needs a look (holding changes, crashed, broken), --all every sandbox; status
    /// shows one in detail; both in text and JSON.
    @Test func lsAndStatusShowStoppedCrashedAndBrokenSandboxes() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("a.txt", "host\n")
        for (name, script) in [
            ("keep", "echo agent > /workspace/a.txt; echo new > /workspace/new.txt"), ("empty", "true"), ("crash", "true"), ("broken", "true"),
        ] {
            let r = try await h.sandbox(script, name: name)
            #expect(r.status == 0, "\(r.stderr)")
        }
        // A start with no end and no supervisor: what a killed supervisor leaves.
        let events = sandboxDirectory(h, "crash") + "/events.jsonl"
        let start = try #require(try String(contentsOfFile: events, encoding: .utf8).split(separator: "\n").first { $0.contains("\"start\"") })
        let handle = try #require(FileHandle(forWritingAtPath: events))
        handle.seekToEndOfFile()
        handle.write(Data((start + "\n").utf8))
        try handle.close()
        try "{not json".write(toFile: sandboxDirectory(h, "broken") + "/sandbox.json", atomically: false, encoding: .utf8)

        let shown = try await listed(h)
        #expect(Set(shown.keys) == ["keep", "crash", "broken"], "\(shown.keys)")
        let keep = try #require(shown["keep"])
        #expect(keep["state"] as? String == "stopped")
        #expect(keep["changes"] as? Int == 2)
        #expect(keep["mode"] as? String == "secure")
        #expect(keep["workspace"] as? String == h.workspace)
        #expect(keep["uptime_seconds"] is NSNull && keep["pending_approvals"] is NSNull)
        #expect((keep["network"] as? [String: Any])?["refused"] as? Int == 0)
        #expect(shown["crash"]?["state"] as? String == "crashed")
        #expect(shown["broken"]?["state"] as? String == "broken")
        #expect((shown["broken"]?["problem"] as? String)?.contains("not a valid sandbox record") == true, "\(shown["broken"] ?? [:])")
        #expect(try await listed(h, all: true)["empty"]?["changes"] as? Int == 0)

        let table = try await h.cordon(["ls"])
        let lines = table.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("NAME") == true && lines.first?.contains("NET(allowed/refused)") == true, "\(table.stdout)")
        #expect(lines.contains { $0.hasPrefix("keep ") && $0.contains("stopped") && $0.hasSuffix(" 2") }, "\(table.stdout)")
        #expect(!table.stdout.contains("empty"), "\(table.stdout)")
        #expect(try await h.cordon(["ls", "--all"]).stdout.contains("empty"))

        let status = try await h.cordon(["status", "keep"])
        #expect(status.status == 0, "\(status.stderr)")
        for line in ["state: stopped", "workspace: \(h.workspace)", "changes: 2 held for review (`cordon diff keep`)", "last exit: status 0"] {
            #expect(status.stdout.contains(line), "\(status.stdout)")
        }
        #expect(try await h.cordon(["status", "crash"]).stdout.contains("state: crashed"))
        let detail = try json(try await h.cordon(["status", "keep", "--json"]).stdout)
        let sandbox = try #require(detail["sandbox"] as? [String: Any])
        #expect((sandbox["last_exit"] as? [String: Any])?["status"] as? Int == 0)
        #expect((sandbox["command"] as? [String])?.first == "/bin/sh")
        #expect(sandbox["state_directory"] as? String == sandboxDirectory(h, "keep"))
    }

    /// A running sandbox: ls and status say so (uptime, approvals), rm and discard refuse it.
    @Test func aRunningSandboxIsListedAndNeitherRemovedNorDiscarded() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let signals = h.root + "/signals"
        try FileManager.default.createDirectory(atPath: signals, withIntermediateDirectories: true)
        #expect(mkfifo(signals + "/go", 0o666) == 0)
        try h.write("profile.yaml", "name: live\nmounts:\n  - {host: \(signals), sandbox: /signals}\n", in: h.root)
        async let run = h.sandbox("echo x > /workspace/x.txt; read a < /signals/go", name: "live", options: ["--profile", h.root + "/profile.yaml"])
        var live: [String: Any]?
        for _ in 0..<600 {
            live = try await listed(h)["live"]
            if live?["state"] as? String == "running", live?["pending_approvals"] is Int { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(live?["state"] as? String == "running", "\(live ?? [:])")
        #expect(live?["uptime_seconds"] is Int, "\(live ?? [:])")
        #expect(live?["pending_approvals"] as? Int == 0, "\(live ?? [:])")
        // Looking did not start the idle sandbox's network (NIO threads in its supervisor).
        let detail = try json(try await h.cordon(["status", "live", "--json"]).stdout)["sandbox"] as? [String: Any]
        let supervisor = try #require(detail?["supervisor_pid"] as? Int, "\(detail ?? [:])")
        func nioThreads() -> Int {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(supervisor)/task")) ?? []
            return tasks.filter { ((try? String(contentsOfFile: "/proc/\(supervisor)/task/\($0)/comm", encoding: .utf8)) ?? "").hasPrefix("NIO-") }.count
        }
        #expect(nioThreads() == 0, "cordon ls started the sandbox's network")
        // Once it serves (`cordon approvals` starts it), ls asks it.
        #expect(try await h.cordon(["approvals", "live"]).status == 0)
        #expect(nioThreads() > 0)
        #expect(try await listed(h)["live"]?["pending_approvals"] as? Int == 0)
        let rm = try await h.cordon(["rm", "live", "--discard"])
        #expect(rm.status == 1 && rm.stderr.contains("sandbox live is running"), "\(rm)")
        let discard = try await h.cordon(["discard", "live"])
        #expect(discard.status == 1 && discard.stderr.contains("cordon down live"), "\(discard)")
        try await SandboxHarness.signal(signals + "/go")
        #expect(try await run.status == 0)
        #expect(FileManager.default.fileExists(atPath: sandboxDirectory(h, "live") + "/upper/x.txt"), "the refusals changed nothing")
    }

    /// A supervisor killed mid-run (SIGKILL: no exit event, its lock released with it): ls says
    /// crashed, and rm removes the sandbox with the cgroup the killed run left.
    @Test func aKilledSupervisorLeavesACrashedSandboxThatRmRemoves() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let environment = h.environment()
        let workspace = h.workspace
        try await SandboxHarness.offPool {
            let process = try RunningProcess(
                [
                    SandboxHarness.cordon, "run", "--name", "doomed", "--workspace", workspace, "--", "/bin/sh", "-c",
                    "echo kept > /workspace/kept.txt; echo ready; sleep 300",
                ],
                environment: environment, directory: workspace)
            _ = try process.readLine(timeout: .seconds(60))
            process.signal(SIGKILL)
            _ = try process.waitForExit(timeout: .seconds(60))
        }
        var doomed: [String: Any]?
        for _ in 0..<100 {
            doomed = try await listed(h)["doomed"]
            if doomed?["state"] as? String == "crashed" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(doomed?["state"] as? String == "crashed", "\(doomed ?? [:])")
        #expect(doomed?["changes"] as? Int == 1, "\(doomed ?? [:])")
        let status = try await h.cordon(["status", "doomed"])
        #expect(status.stdout.contains("state: crashed") && status.stdout.contains("the supervisor was killed"), "\(status.stdout)")
        let removed = try await h.cordon(["rm", "doomed", "--discard"])
        #expect(removed.status == 0, "\(removed)")
        #expect(!FileManager.default.fileExists(atPath: sandboxDirectory(h, "doomed")))
        if SandboxHarness.isRoot, let leftover = cgroupLeftover("doomed") {
            let parent = (leftover as NSString).deletingLastPathComponent
            let left = ((try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []).filter {
                $0.hasPrefix((leftover as NSString).lastPathComponent + ".")
            }
            #expect(left.isEmpty, "cgroups of the killed run left: \(left)")
        }
    }

    /// What a record holds (a profile name from a repository's cordon.yaml, a workspace path)
    /// reaches the terminal escaped: no control sequence from the state directory is printed.
    @Test func lsAndStatusEscapeWhatTheRecordHolds() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        #expect(try await h.sandbox("echo x > /workspace/x", name: "odd").status == 0)
        let record = sandboxDirectory(h, "odd") + "/sandbox.json"
        var object = try json(try String(contentsOfFile: record, encoding: .utf8))
        object["profile"] = "evil\u{1B}]52;c;ZWNobw==\u{07}\u{1B}[2J"
        object["workspace"] = h.workspace + "\u{202E}txt.exe"
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: record))
        for arguments in [["ls"], ["ls", "--all"], ["status", "odd"]] {
            let r = try await h.cordon(arguments)
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout.contains("odd"), "\(r.stdout)")
            #expect(!r.stdout.contains("\u{1B}") && !r.stdout.contains("\u{07}") && !r.stdout.contains("\u{202E}"), "\(arguments): \(r.stdout)")
        }
    }

    /// rm refuses a sandbox holding changes unless --discard, and then removes its state and (run
    /// as root) gives its uid range back; prune removes the stopped ones without changes.
    @Test func rmRefusesChangesAndPruneKeepsThem() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        // The agent's link to a host directory: removing the sandbox removes the link, never what it points at.
        try h.write("precious", "the user's\n", in: h.root + "/victim")
        for (name, script) in [("keep", "echo new > /workspace/new.txt; ln -s \(h.root)/victim /workspace/ptr"), ("empty", "true"), ("other", "true")] {
            #expect(try await h.sandbox(script, name: name).status == 0)
        }
        let refused = try await h.cordon(["rm", "keep"])
        #expect(refused.status == 1, "\(refused)")
        #expect(refused.stderr.contains("sandbox keep holds 2 unsynced changes") && refused.stderr.contains("cordon rm keep --discard"), "\(refused.stderr)")
        #expect(FileManager.default.fileExists(atPath: sandboxDirectory(h, "keep") + "/upper/new.txt"))

        let prune = try await h.cordon(["prune", "--json"])
        #expect(prune.status == 0, "\(prune.stderr)")
        let pruned = try json(prune.stdout)
        #expect((pruned["removed"] as? [[String: Any]])?.compactMap { $0["name"] as? String }.sorted() == ["empty", "other"], "\(prune.stdout)")
        #expect(!FileManager.default.fileExists(atPath: sandboxDirectory(h, "empty")))
        #expect(FileManager.default.fileExists(atPath: sandboxDirectory(h, "keep")))
        #expect(try await h.cordon(["prune"]).stdout == "nothing to prune\n")

        let block = try? String(contentsOfFile: sandboxDirectory(h, "keep") + "/uid-range", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        // The cgroup a killed supervisor left (named as the runner names it: NAME.PID).
        let leftover = SandboxHarness.isRoot ? cgroupLeftover("keep.4242424") : nil
        if let leftover { #expect(mkdir(leftover, 0o755) == 0 || errno == EEXIST, "\(leftover)") }
        let removed = try await h.cordon(["rm", "keep", "--discard"])
        #expect(removed.status == 0, "\(removed.stderr)")
        #expect(removed.stdout == "removed keep (2 changes discarded)\n", "\(removed.stdout)")
        #expect(FileManager.default.fileExists(atPath: h.root + "/victim/precious"), "rm followed the agent's link")
        #expect(!FileManager.default.fileExists(atPath: sandboxDirectory(h, "keep")))
        if SandboxHarness.isRoot, let block {
            #expect(!FileManager.default.fileExists(atPath: "/var/lib/cordon/uid-ranges/" + block), "the uid claim was given back")
        }
        if let leftover { #expect(!FileManager.default.fileExists(atPath: leftover), "the cgroup leftover was removed") }
    }

    /// Where `Cgroup.create(name:)` puts a sandbox's cgroup for this process's own cgroup (the
    /// memory controller on a v1 host); nil when there is no such parent to make it in.
    func cgroupLeftover(_ name: String) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8) else { return nil }
        let lines = text.split(separator: "\n").map { $0.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init) }
        if FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers") {
            guard let own: String = lines.first(where: { $0.count == 3 && $0[0] == "0" })?[2] else { return nil }
            let path: String = "/sys/fs/cgroup" + (own == "/" ? "" : own)
            return path + "/cordon-" + name
        }
        guard let own: String = lines.first(where: { $0.count == 3 && $0[1].split(separator: ",").contains("memory") })?[2] else { return nil }
        let under: String = own == "/" ? "" : own
        let parent: String = "/sys/fs/cgroup/memory" + under + "/cordon"
        return FileManager.default.fileExists(atPath: parent) ? parent + "/" + name : nil
    }

    /// A user who is not root removes their own sandbox, although overlayfs left its retired work
    /// directories mode 000 and the agent left read-only directories in its upper layer.
    @Test(.enabled(if: SandboxHarness.isRoot, "needs root to switch to another user"))
    func rmWorksForAUserWhoIsNotRoot() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        // The scratch tree belongs to the user; the built products are world-readable.
        _ = try await SandboxHarness.run(["/bin/chown", "-R", "65534:65534", h.root], environment: nil)
        _ = try await SandboxHarness.run(["/bin/chmod", "755", h.root], environment: nil)
        func asUser(_ arguments: [String]) async throws -> SandboxHarness.Result {
            try await SandboxHarness.run(
                ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", SandboxHarness.cordon] + arguments, environment: h.environment(),
                directory: h.workspace)
        }
        let script = "mkdir -p /workspace/ro/sub && echo x > /workspace/ro/sub/f && chmod 555 /workspace/ro/sub /workspace/ro"
        let run = try await asUser(["run", "--name", "mine", "--workspace", h.workspace, "--", "/bin/sh", "-c", script])
        #expect(run.status == 0, "\(run.stderr)")
        let work = sandboxDirectory(h, "mine") + "/work"
        let retired = try FileManager.default.contentsOfDirectory(atPath: work).filter { $0.hasPrefix("retired.") }
        #expect(!retired.isEmpty, "a retired scratch directory is what made rm -rf fail")
        let refused = try await asUser(["rm", "mine"])
        #expect(refused.status == 1, "\(refused)")
        let removed = try await asUser(["rm", "mine", "--discard"])
        #expect(removed.status == 0, "\(removed)")
        #expect(!FileManager.default.fileExists(atPath: sandboxDirectory(h, "mine")), "\(removed.stderr)")
    }

    /// discard drops all changes or those at some paths: an added file, a whiteout (the host's
    /// file shows again), an opaque directory; it refuses paths outside the workspace and a path
    /// beneath a replaced directory, dropping nothing then.
    @Test func discardDropsChangesByPathIncludingAWhiteout() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("a.txt", "host\n")
        try h.write("d/x", "host x\n")
        try h.write("r/old", "host old\n")
        try h.write("x", "the user's\n", in: h.root + "/victim")
        let script = """
            cd /workspace && echo agent > a.txt && echo new > new.txt && rm d/x && rm -rf r && mkdir r && echo n > r/n \
            && ln -s \(h.root)/victim link
            """
        #expect(try await h.sandbox(script, name: "t").status == 0)
        func diff() async throws -> Set<String> {
            let r = try await h.cordon(["diff", "t", "--json"])
            let changes = try #require(try json(r.stdout)["changes"] as? [[String: Any]])
            return Set(changes.compactMap { change in (change["path"] as? String).map { "\(change["kind"] ?? "?") \($0)" } })
        }
        let before = try await diff()
        #expect(before.contains("added new.txt") && before.contains("deleted d/x") && before.contains("modified a.txt"), "\(before)")

        for (path, message) in [
            ("../etc/passwd", "leaves the workspace"), ("/etc/passwd", "is outside the workspace"), ("r/old", "replaced the host's directory as a whole"),
            ("missing.txt", "the sandbox did not change it"), (".", "is the whole workspace"),
            ("link/x", "link/x: link is not a directory in the sandbox"),
        ] {
            let r = try await h.cordon(["discard", "t", "new.txt", path])
            #expect(r.status == 2 && r.stderr.contains(message), "\(path): \(r)")
        }
        #expect(try await diff() == before, "a refused discard dropped nothing")
        #expect(FileManager.default.fileExists(atPath: h.root + "/victim/x"), "discard followed the agent's link")

        let dropped = try await h.cordon(["discard", "t", "new.txt", "/workspace/d/x"])
        #expect(dropped.status == 0, "\(dropped)")
        #expect(dropped.stdout == "t: discarded new.txt\nt: discarded d/x\n", "\(dropped.stdout)")
        let after = try await diff()
        #expect(!after.contains("added new.txt") && !after.contains("deleted d/x") && after.contains("modified a.txt"), "\(after)")
        // The host's file shows in the sandbox again.
        let seen = try await h.sandbox("cat /workspace/d/x; ls /workspace/r", name: "t")
        #expect(seen.stdout == "host x\nn\n", "\(seen)")

        let replaced = try json(try await h.cordon(["discard", "t", h.workspace + "/r", "--json"]).stdout)
        #expect(replaced["discarded"] as? [String] == ["r"] && replaced["all"] as? Bool == false && replaced["version"] as? Int == 1, "\(replaced)")
        #expect(try await h.sandbox("ls /workspace/r", name: "t").stdout == "old\n")
        let all = try await h.cordon(["discard", "t"])
        #expect(all.status == 0 && all.stdout == "t: discarded 2 changes\n", "\(all)")
        #expect(try await h.cordon(["diff", "t"]).stdout == "t: no changes\n")
    }

    /// A one-shot run (no --name) that leaves nothing leaves no state directory (it may become a
    /// spare, outside `sandboxes/`, which no command lists), whatever its exit, 127 included; one
    /// that writes is kept; a named sandbox is kept.
    @Test func aOneShotRunThatLeavesNothingLeavesNoStateDirectory() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let sandboxes = h.state + "/cordon/sandboxes"
        func entries() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: sandboxes)) ?? []).sorted() }
        let quiet = try await h.cordon(["run", "--workspace", h.workspace, "--", "/bin/sh", "-c", "exit 3"])
        #expect(quiet.status == 3)
        #expect(quiet.stderr.contains("no changes"), "\(quiet.stderr)")
        let missing = try await h.cordon(["run", "--workspace", h.workspace, "--", "/nonexistent-command"])
        #expect(missing.status == 127, "\(missing)")
        #expect(entries() == [], "\(entries())")
        let wrote = try await h.cordon(["run", "--workspace", h.workspace, "--", "/bin/sh", "-c", "echo x > /workspace/x"])
        #expect(wrote.status == 0)
        #expect(entries().count == 1, "\(entries())")
        #expect(try await h.sandbox("true", name: "named").status == 0)
        #expect(entries().count == 2 && entries().contains("named"), "\(entries())")
    }
}
