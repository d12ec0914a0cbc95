import CordonTestSupport
import Foundation
import Glibc
import Testing

/// The audit log a real `cordon run` writes: its start, the command and its exit, a file the
/// agent wrote, a refused connection; `cordon audit verify` passes on it and fails, naming the
/// record, once it is tampered with; `cordon sync` appends its result and moves the head. As root
/// and as an unprivileged user (the file watcher is inotify: no privilege needed).
@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"), .timeLimit(.minutes(5)))
struct AuditRunTests {
    static func records(_ h: SandboxHarness, _ name: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: h.state + "/cordon/sandboxes/\(name)/audit.jsonl", encoding: .utf8)
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func cordon(_ h: SandboxHarness, _ arguments: [String], unprivileged: Bool) async throws -> SandboxHarness.Result {
        guard unprivileged else { return try await h.cordon(arguments) }
        return try await SandboxHarness.run(
            ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", SandboxHarness.cordon] + arguments,
            environment: h.environment(), directory: h.workspace)
    }

    /// The watcher starts after `RunAudit.watchDelay` (closing inotify costs every short run a
    /// kernel grace period): what was written before is recorded from its change time when the
    /// watches are placed, what comes after through the watches (a file written again later
    /// counts again).
    @Test func writesBeforeAndAfterTheWatcherStartsAreRecorded() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let script = "echo a > early.txt; sleep 1.2; echo b > late.txt; echo c >> early.txt; sleep 1.5"
        let run = try await h.sandbox("cd /workspace && " + script, name: "late")
        #expect(run.status == 0, "\(run.stderr)")
        let writes = try Self.records(h, "late").filter { $0["kind"] as? String == "file_write" }
        let early = writes.filter { $0["path"] as? String == "early.txt" }.compactMap { $0["count"] as? Int }.reduce(0, +)
        #expect(early >= 2, "seen when the watches were placed, and its append through them: \(writes)")
        #expect(writes.contains { $0["path"] as? String == "late.txt" }, "\(writes)")
    }

    @Test(arguments: [false, true])
    func aRunIsRecordedAndVerified(unprivileged: Bool) async throws {
        if unprivileged && !SandboxHarness.isRoot { return }
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("profile.yaml", "name: audittest\negress:\n  domains: [\"allowed.invalid\"]\n", in: h.root)
        if unprivileged {
            _ = try await SandboxHarness.run(["/bin/chown", "-R", "65534:65534", h.root], environment: nil)
            _ = try await SandboxHarness.run(["/bin/chmod", "755", h.root], environment: nil)
        }
        let script = "echo hi > /workspace/made.txt; curl -sS -m 5 -o /dev/null http://unlisted.test/; exit 3"
        let run = try await cordon(
            h, ["run", "--name", "aud", "--workspace", h.workspace, "--profile", h.root + "/profile.yaml", "--", "/bin/sh", "-c", script],
            unprivileged: unprivileged)
        #expect(run.status == 3, "\(run.stderr)")

        let records = try Self.records(h, "aud")
        let kinds = records.compactMap { $0["kind"] as? String }
        #expect(kinds.first == "start", "\(kinds)")
        #expect(kinds.last == "exit", "\(kinds)")
        #expect(records.contains { $0["kind"] as? String == "exec" && ($0["argv"] as? [String])?.last == script })
        #expect(records.contains { $0["kind"] as? String == "exec_exit" && $0["status"] as? Int == 3 })
        #expect(records.contains { $0["kind"] as? String == "exit" && $0["status"] as? Int == 3 })
        #expect(
            records.contains { $0["kind"] as? String == "file_write" && $0["path"] as? String == "made.txt" && $0["layer"] as? String == "workspace" },
            "\(records)")
        #expect(
            records.contains { $0["kind"] as? String == "network" && $0["decision"] as? String == "deny" && $0["host"] as? String == "unlisted.test" },
            "\(records)")
        #expect(records.enumerated().allSatisfy { $0.element["seq"] as? Int == $0.offset + 1 })

        let verified = try await cordon(h, ["audit", "verify", "aud"], unprivileged: unprivileged)
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        #expect(verified.stdout == "ok: \(records.count) records, head matches\n")

        let shown = try await cordon(h, ["audit", "aud"], unprivileged: unprivileged)
        #expect(shown.status == 0)
        #expect(shown.stdout.split(separator: "\n").count == records.count)
        #expect(shown.stdout.contains("file_write  layer=workspace path=made.txt"), "\(shown.stdout)")
        let json = try await cordon(h, ["audit", "aud", "--json", "--since", "1h"], unprivileged: unprivileged)
        let stored = try String(contentsOfFile: h.state + "/cordon/sandboxes/aud/audit.jsonl", encoding: .utf8)
        #expect(json.stdout == stored)
        let none = try await cordon(h, ["audit", "aud", "--json", "--since", "2999-01-01T00:00:00Z"], unprivileged: unprivileged)
        #expect(none.status == 0 && none.stdout.isEmpty)

        // A sync appends its result and writes the head again.
        let sync = try await cordon(h, ["sync", "aud"], unprivileged: unprivileged)
        #expect(sync.status == 0, "\(sync.stdout)\(sync.stderr)")
        let synced = try Self.records(h, "aud")
        let last = try #require(synced.last)
        #expect(last["kind"] as? String == "sync" && last["applied"] as? [String] == ["made.txt"] && last["held_count"] as? Int == 0, "\(last)")
        let again = try await cordon(h, ["audit", "verify", "aud", "--json"], unprivileged: unprivileged)
        #expect(again.status == 0 && again.stdout.contains("\"head_seq\": \(synced.count)"), "\(again.stdout)")

        // Tampering: a field edited in a middle record.
        let path = h.state + "/cordon/sandboxes/aud/audit.jsonl"
        let current = try String(contentsOfFile: path, encoding: .utf8)
        let edited = current.replacingOccurrences(of: "\"host\":\"unlisted.test\"", with: "\"host\":\"harmless.test\"")
        #expect(edited != current)
        try edited.write(toFile: path, atomically: false, encoding: .utf8)
        let tampered = try await cordon(h, ["audit", "verify", "aud"], unprivileged: unprivileged)
        #expect(tampered.status == 1)
        #expect(tampered.stderr.contains("fails: line "), "\(tampered.stderr)")

        // The head removed: a log that cannot be checked fails.
        unlink(h.state + "/cordon/sandboxes/aud/audit.head")
        let headless = try await cordon(h, ["audit", "verify", "aud"], unprivileged: unprivileged)
        #expect(headless.status == 1 && headless.stderr.contains("audit.head is missing"), "\(headless.stderr)")

        let unknown = try await cordon(h, ["audit", "verify", "nosuch"], unprivileged: unprivileged)
        #expect(unknown.status == 2)
    }
}

/// `cordon audit NAME --follow` prints what is there, then each record as it is appended.
@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"), .timeLimit(.minutes(5)))
struct AuditFollowTests {
    @Test func followPrintsNewRecordsAsTheyAreAppended() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let run = try await h.sandbox("echo a > /workspace/a.txt", name: "fol")
        #expect(run.status == 0, "\(run.stderr)")
        let count = try AuditRunTests.records(h, "fol").count
        let follower = try RunningProcess(
            [SandboxHarness.cordon, "audit", "fol", "--follow", "--json"], environment: h.environment(), directory: h.workspace)
        defer { follower.signal(SIGKILL) }
        let lines = try await SandboxHarness.offPool { try (0..<count).map { _ in try follower.readLine() } }
        #expect(lines.first?.contains("\"kind\":\"start\"") == true)
        let sync = try await h.cordon(["sync", "fol"])
        #expect(sync.status == 0, "\(sync.stderr)")
        let next = try await SandboxHarness.offPool { try follower.readLine() }
        #expect(next.contains("\"kind\":\"sync\"") && next.contains("a.txt"), "\(next)")
    }
}

/// A sandbox brought up: its start, each `cordon exec` with its exit status, and its end when it
/// is brought down (which writes the head).
@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"), .timeLimit(.minutes(5)))
struct AuditLifecycleTests {
    @Test func upExecAndDownAreRecorded() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let up = try await h.cordon(["up", "--name", "live", "--workspace", h.workspace])
        #expect(up.status == 0, "\(up.stderr)")
        let exec = try await h.cordon(["exec", "live", "--", "/bin/sh", "-c", "echo e > /workspace/e.txt; exit 4"], timeout: 60)
        #expect(exec.status == 4, "\(exec.stderr)")
        let down = try await h.cordon(["down", "live"], timeout: 60)
        #expect(down.status == 0, "\(down.stderr)")
        let records = try AuditRunTests.records(h, "live")
        #expect(records.first?["kind"] as? String == "start" && records.first?["via"] as? String == "up", "\(records)")
        let started = records.first { $0["kind"] as? String == "exec" }
        #expect((started?["argv"] as? [String])?.last == "echo e > /workspace/e.txt; exit 4" && started?["via"] as? String == "exec", "\(records)")
        let ended = records.first { $0["kind"] as? String == "exec_exit" }
        #expect(ended?["status"] as? Int == 4 && ended?["exec_id"] as? Int == started?["exec_id"] as? Int, "\(records)")
        #expect(records.contains { $0["kind"] as? String == "file_write" && $0["path"] as? String == "e.txt" })
        #expect(records.last?["kind"] as? String == "exit")
        let verified = try await h.cordon(["audit", "verify", "live"])
        #expect(verified.status == 0 && verified.stdout == "ok: \(records.count) records, head matches\n", "\(verified.stdout)\(verified.stderr)")
    }
}

/// Writes under an `overlay` mount are recorded under the mount's sandbox path, and so is their sync.
@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"), .timeLimit(.minutes(5)))
struct AuditOverlayMountTests {
    @Test func aWriteUnderAnOverlayMountIsRecorded() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let data = h.root + "/data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try h.write("profile.yaml", "name: mnt\nmounts:\n  - {host: \(data), sandbox: /data, mode: overlay}\n", in: h.root)
        let run = try await h.cordon([
            "run", "--name", "mnt", "--workspace", h.workspace, "--profile", h.root + "/profile.yaml", "--", "/bin/sh", "-c", "echo m > /data/m.txt",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let records = try AuditRunTests.records(h, "mnt")
        #expect(
            records.contains { $0["kind"] as? String == "file_write" && $0["layer"] as? String == "/data" && $0["path"] as? String == "m.txt" },
            "\(records)")
        // Its sync is recorded with the path as the sandbox sees it.
        let sync = try await h.cordon(["sync", "mnt"])
        #expect(sync.status == 0, "\(sync.stdout)\(sync.stderr)")
        let last = try AuditRunTests.records(h, "mnt").last
        #expect(last?["kind"] as? String == "sync" && last?["applied"] as? [String] == ["/data/m.txt"], "\(String(describing: last))")
    }
}

/// yolo's automatic sync records each round's result in the audit log, and the chain stays whole.
@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"), .timeLimit(.minutes(5)))
struct AuditYoloTests {
    @Test func aYoloRoundIsRecorded() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("profile.yaml", "name: fast\nmode: yolo\n", in: h.root)
        let run = try await h.cordon([
            "run", "--name", "yo", "--workspace", h.workspace, "--profile", h.root + "/profile.yaml", "--", "/bin/sh", "-c", "echo y > /workspace/y.txt",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(FileManager.default.fileExists(atPath: h.workspace + "/y.txt"))
        let records = try AuditRunTests.records(h, "yo")
        #expect(
            records.contains { $0["kind"] as? String == "sync" && $0["via"] as? String == "auto_sync" && $0["applied"] as? [String] == ["y.txt"] },
            "\(records)")
        #expect(records.last?["kind"] as? String == "exit")
        let verified = try await h.cordon(["audit", "verify", "yo"])
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
    }
}
