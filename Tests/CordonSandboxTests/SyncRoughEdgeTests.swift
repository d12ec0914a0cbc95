import CordonTestSupport
import Foundation
import Glibc
import Testing

/// `cordon sync` as a new user meets it, in real sandboxes: a dry run says what the run does, the
/// prompt at a terminal offers only what it then does, a secret is reported once.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct SyncRoughEdgeTests {
    static let token = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// Runs `cordon ARGS` on a pseudo-terminal, as a person would: each answer is typed once its
    /// prompt has appeared (after the previous one). Returns the exit status and all the output;
    /// a prompt that never comes ends the run (status -1).
    static func atTerminal(_ h: SandboxHarness, _ arguments: [String], answers: [(prompt: String, answer: String)]) async throws -> (
        status: Int32, output: String
    ) {
        let driver = """
            import json, os, pty, select, signal, sys, time
            argv, steps = json.loads(sys.argv[1]), json.loads(sys.argv[2])
            pid, fd = pty.fork()
            if pid == 0:
                os.execv(argv[0], argv)
            out, seen, step, deadline = b"", 0, 0, time.time() + 40
            while time.time() < deadline:
                if step < len(steps):
                    at = out.find(steps[step][0].encode(), seen)
                    if at >= 0:
                        seen = at + len(steps[step][0])
                        os.write(fd, steps[step][1].encode())
                        step += 1
                r, _, _ = select.select([fd], [], [], 0.2)
                if r:
                    try:
                        chunk = os.read(fd, 4096)
                    except OSError:
                        break
                    if not chunk:
                        break
                    out += chunk
            else:
                os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            sys.stdout.write(out.decode("utf-8", "replace"))
            sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) and time.time() < deadline else 255)
            """
        let argv = String(decoding: try JSONSerialization.data(withJSONObject: [SandboxHarness.cordon] + arguments), as: UTF8.self)
        let steps = String(decoding: try JSONSerialization.data(withJSONObject: answers.map { [$0.prompt, $0.answer] }), as: UTF8.self)
        let r = try await SandboxHarness.run(["/usr/bin/python3", "-c", driver, argv, steps], environment: h.environment(), directory: h.workspace)
        return (r.status == 255 ? -1 : r.status, r.stdout)
    }

    /// The rough edge: "3 changes would apply, 1 held" while the same sync without --dry-run
    /// applied nothing. The dry run now says what that run does, in text and in JSON.
    @Test(.enabled(if: SandboxHarness.namespacesAvailable, "needs user namespaces"))
    func aDryRunReportsExactlyWhatTheSyncDoes() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let made = try await h.sandbox(
            "cd /workspace && echo a > a.txt && echo b > b.txt && echo c > c.txt && echo 'GITHUB_TOKEN=\(Self.token)' > creds.txt", name: "dry")
        #expect(made.status == 0, "\(made.stderr)")

        let dry = try await h.cordon(["sync", "dry", "--dry-run"])
        #expect(dry.status == 1, "\(dry.stdout)\(dry.stderr)")
        #expect(dry.stdout.contains("dry run: nothing would apply: 1 change held back (use --partial to apply the 3 clean ones)"), "\(dry.stdout)")
        #expect(try Self.json(try await h.cordon(["sync", "dry", "--dry-run", "--json"]).stdout)["applied"] as? [String] == [])
        let real = try await h.cordon(["sync", "dry"])
        #expect(real.status == 1)
        #expect(real.stdout.contains("nothing applied: 1 change held back (use --partial to apply the 3 clean ones)"), "\(real.stdout)")
        #expect(!FileManager.default.fileExists(atPath: h.workspace + "/a.txt"), "the sync applied what it held")
        // The secret is reported once, by its own rule (not again as generic-api-key).
        #expect(real.stdout.components(separatedBy: "creds.txt:1:").count == 2, "\(real.stdout)")
        #expect(!real.stdout.contains("generic-api-key"), "\(real.stdout)")

        // With --partial: the dry run lists exactly what the run then applies.
        let dryPartial = try Self.json(try await h.cordon(["sync", "dry", "--dry-run", "--partial", "--json"]).stdout)
        let partial = try Self.json(try await h.cordon(["sync", "dry", "--partial", "--json"]).stdout)
        #expect(Set(dryPartial["applied"] as? [String] ?? []) == ["a.txt", "b.txt", "c.txt"])
        #expect(Set(partial["applied"] as? [String] ?? []) == Set(dryPartial["applied"] as? [String] ?? ["?"]))
        #expect(partial["held"] as? [String] == ["creds.txt"])
        #expect((try? String(contentsOfFile: h.workspace + "/a.txt", encoding: .utf8)) == "a\n")
        #expect(!FileManager.default.fileExists(atPath: h.workspace + "/creds.txt"))
    }

    /// The rough edge: "Apply 1 changes …? [y/N]", y, and nothing applied (a flagged file held the
    /// set). At a real terminal the prompt now offers what can be done, and does what is chosen.
    @Test(.enabled(if: SandboxHarness.namespacesAvailable, "needs user namespaces"))
    func thePromptOffersOnlyWhatItDoes() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let script = "cd /workspace && echo clean > clean.txt && echo 'GITHUB_TOKEN=\(Self.token)' > creds.txt"
        for name in ["abort", "partial"] {
            let made = try await h.sandbox(script, name: name)
            #expect(made.status == 0, "\(made.stderr)")
        }
        // y is no choice here (nothing waits for approval): it aborts, and says so.
        let abort = try await Self.atTerminal(h, ["sync", "abort"], answers: [("What now? [a/s/Q]", "y\n")])
        #expect(abort.status == 1, "\(abort.output)")
        #expect(abort.output.contains("[a] apply the 1 clean change and hold back 1 flagged one (as --partial)"), "\(abort.output)")
        #expect(abort.output.contains("nothing applied"), "\(abort.output)")
        #expect(!abort.output.contains("[y/N]"), "\(abort.output)")
        #expect(!FileManager.default.fileExists(atPath: h.workspace + "/clean.txt"))

        // s shows the findings again and asks again; a applies the clean file and holds the secret.
        let partial = try await Self.atTerminal(h, ["sync", "partial"], answers: [("What now? [a/s/Q]", "s\n"), ("What now? [a/s/Q]", "a\n")])
        #expect(partial.status == 1, "\(partial.output)")
        #expect(partial.output.components(separatedBy: "[github-token]").count == 3, "findings shown, then shown again: \(partial.output)")
        #expect(partial.output.contains("applied 1 change to \(h.workspace), 1 change held back"), "\(partial.output)")
        #expect((try? String(contentsOfFile: h.workspace + "/clean.txt", encoding: .utf8)) == "clean\n")
        #expect(!FileManager.default.fileExists(atPath: h.workspace + "/creds.txt"))

        // A trap waits for approval beside the secret: y approves it and applies it with the
        // clean file, holding back the secret (as it said it would).
        let trap = try await h.sandbox("cd /workspace && echo 'use flake' > .envrc && echo 'GITHUB_TOKEN=\(Self.token)' > creds2.txt", name: "trap")
        #expect(trap.status == 0, "\(trap.stderr)")
        let approve = try await Self.atTerminal(h, ["sync", "trap"], answers: [("What now? [y/s/Q]", "y\n")])
        #expect(approve.status == 1, "\(approve.output)")
        #expect(
            approve.output.contains("[y] approve the 1 change waiting for approval (host-execution traps) and apply 1 change, holding back 1 flagged one"),
            "\(approve.output)")
        #expect((try? String(contentsOfFile: h.workspace + "/.envrc", encoding: .utf8)) == "use flake\n")
        #expect(!FileManager.default.fileExists(atPath: h.workspace + "/creds2.txt"))

        // Nothing held: a plain question, in the singular, and y applies.
        let made = try await h.sandbox("cd /workspace && echo more > more.txt", name: "yes")
        #expect(made.status == 0, "\(made.stderr)")
        let yes = try await Self.atTerminal(h, ["sync", "yes"], answers: [("Apply 1 change to \(h.workspace)? [y/N]", "y\n")])
        #expect(yes.status == 0, "\(yes.output)")
        #expect(yes.output.contains("applied 1 change to \(h.workspace)"), "\(yes.output)")
        #expect((try? String(contentsOfFile: h.workspace + "/more.txt", encoding: .utf8)) == "more\n")
    }
}
