import CordonTestSupport
import Foundation
import Glibc
import Testing

/// Sandboxes that outlive the command: `cordon up`, `exec`, `shell`, `down`, `start`, `logs`,
/// with real sandboxes (each test brings its own down, whatever happens).
@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "needs user namespaces"), .timeLimit(.minutes(5)))
struct LifecycleTests {
    /// `cordon up --name NAME` in the harness's workspace; the test fails when it did not start.
    static func up(_ h: SandboxHarness, _ name: String, options: [String] = []) async throws {
        let r = try await h.cordon(["up", "--name", name, "--workspace", h.workspace] + options)
        #expect(r.status == 0, "up \(name): \(r.stderr)")
        #expect(r.stdout == name + "\n")
    }

    static func exec(_ h: SandboxHarness, _ name: String, _ script: String, options: [String] = [], environment: [String: String] = [:]) async throws
        -> ProcessResult
    {
        try await h.cordon(["exec", name] + options + ["--", "/bin/sh", "-c", script], extraEnvironment: environment, timeout: 60)
    }

    /// Sleeps whose command lines no other run on this host shares (another checkout's suite may
    /// run the same tests at the same time): the seconds carry this test process's id.
    static let crashSleep = "3003.\(getpid())"
    static let execSleep = "3005.\(getpid())"

    /// Command lines of every process a `ps` of the host shows that contains `marker`.
    static func hostProcesses(containing marker: String) -> [Int32] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { Int32($0) }.filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self).contains(marker)
        }
    }

    /// Two sandboxes up at once on one workspace: a command exec'd in each sees its own processes
    /// and its own files, never the other's.
    @Test func twoSandboxesUpAtOnceAreIsolated() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup(downing: ["iso-a", "iso-b"]) }
        try await Self.up(h, "iso-a")
        try await Self.up(h, "iso-b")
        // A process left running in each (orphaned to its init) and a file written in each.
        for (name, marker) in [("iso-a", "3001"), ("iso-b", "3002")] {
            let r = try await Self.exec(h, name, "echo \(name) > /workspace/from-\(name); echo \(name) > /tmp/tmp-\(name); sleep \(marker) >/dev/null 2>&1 &")
            #expect(r.status == 0, "\(r.stderr)")
        }
        let listing = "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done; ls /workspace /tmp"
        let a = try await Self.exec(h, "iso-a", listing)
        let b = try await Self.exec(h, "iso-b", listing)
        #expect(a.status == 0 && b.status == 0, "\(a.stderr) \(b.stderr)")
        #expect(a.stdout.contains("sleep 3001") && !a.stdout.contains("sleep 3002"), "\(a.stdout)")
        #expect(b.stdout.contains("sleep 3002") && !b.stdout.contains("sleep 3001"), "\(b.stdout)")
        #expect(a.stdout.contains("from-iso-a") && !a.stdout.contains("from-iso-b") && !a.stdout.contains("tmp-iso-b"), "\(a.stdout)")
        #expect(b.stdout.contains("from-iso-b") && !b.stdout.contains("from-iso-a") && !b.stdout.contains("tmp-iso-a"), "\(b.stdout)")
        // Nothing reached the host's workspace (secure mode: the changes wait for review).
        #expect(!FileManager.default.fileExists(atPath: h.workspace + "/from-iso-a"))
    }

    /// `-e VAR=VALUE`, a bare `-e VAR` (the host's value; none when unset), `-w`; nothing else
    /// of the host's environment enters; the command's exit status is exec's; 127 and 126 as run.
    @Test func execEnvironmentDirectoryAndStatus() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup(downing: ["envbox"]) }
        try await Self.up(h, "envbox")
        let r = try await Self.exec(
            h, "envbox", #"echo "$FOO|$FROMHOST|${UNSET-unset}|$(pwd)|${LEAK-none}"; exit 7"#,
            options: ["-e", "FOO=bar=baz", "-e", "FROMHOST", "-e", "UNSET", "-w", "/tmp"],
            environment: ["FROMHOST": "host value", "LEAK": "secret"])
        #expect(r.status == 7, "\(r.stderr)")
        #expect(r.stdout == "bar=baz|host value|unset|/tmp|none\n")
        let home = try await Self.exec(h, "envbox", "pwd")
        #expect(home.stdout == "/workspace\n")
        let missing = try await h.cordon(["exec", "envbox", "--", "no-such-command"])
        #expect(missing.status == 127)
        #expect(missing.stderr.contains("no-such-command: command not found"), "\(missing.stderr)")
        try h.write("README.md", "not a program\n")
        let notExecutable = try await h.cordon(["exec", "envbox", "--", "/workspace/README.md"])
        #expect(notExecutable.status == 126, "\(notExecutable.stderr)")
        // A relative path is found from the exec's working directory, and said why it cannot run.
        let relative = try await h.cordon(["exec", "envbox", "--", "./README.md"])
        #expect(relative.status == 126 && relative.stderr.contains("./README.md: "), "\(relative.stderr)")
        let elsewhere = try await h.cordon(["exec", "envbox", "-w", "/tmp", "--", "./README.md"])
        #expect(elsewhere.status == 127, "\(elsewhere.stderr)")
        // The log of a sandbox brought up verifies from its start (its head is written then).
        let verify = try await h.cordon(["audit", "verify", "envbox"])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        let badName = try await h.cordon(["exec", "envbox", "-e", "A B=1", "--", "true"])
        #expect(badName.status != 0 && badName.stderr.contains("not a variable name"))
    }

    /// The exec'd command is inside every guard of the sandbox (seccomp, no_new_privs, no
    /// capabilities, Landlock, its own pid namespace) and holds none of init's descriptors: it
    /// cannot reach the exec channel to start commands of its own outside them.
    @Test func anExecdCommandIsInsideEveryGuard() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup(downing: ["guards"]) }
        try await Self.up(h, "guards")
        let r = try await Self.exec(
            h, "guards",
            """
            grep -E '^(Seccomp|NoNewPrivs|CapEff):' /proc/self/status
            ls /proc/self/fd | tr '\\n' ' '; echo
            echo init-fds $(ls /proc/1/fd | wc -l)
            for f in /proc/1/fd/*; do readlink "$f" >/dev/null 2>&1 && echo FOLLOWED "$f"; done
            touch /etc/cordon-probe 2>/dev/null && echo etc-writable || echo etc-readonly
            """)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("Seccomp:\t2"), "\(r.stdout)")
        #expect(r.stdout.contains("NoNewPrivs:\t1"), "\(r.stdout)")
        #expect(r.stdout.contains("CapEff:\t0000000000000000"), "\(r.stdout)")
        // ls's own directory descriptor (3) besides stdio; nothing of init's.
        #expect(r.stdout.contains("\n0 1 2 3 \n"), "\(r.stdout)")
        // Init's descriptors (the exec channel among them) are listed but cannot be followed.
        #expect(!r.stdout.contains("init-fds 0"), "\(r.stdout)")
        #expect(!r.stdout.contains("FOLLOWED"), "\(r.stdout)")
        #expect(r.stdout.contains("etc-readonly"), "\(r.stdout)")
    }

    /// `cordon exec -it` from a real terminal: the command has a tty, follows a resize of the
    /// user's terminal, and Ctrl-C reaches it (exit 130); the terminal's modes come back.
    @Test func execWithATerminal() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup(downing: ["ttybox"]) }
        try await Self.up(h, "ttybox")
        let driver = #"""
            import os, sys, time, select, termios, fcntl, signal, subprocess, struct
            cordon = sys.argv[1]
            master, slave = os.openpty()
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
            before = termios.tcgetattr(slave)
            def ctty():
                fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            script = 'tty; stty size; echo waiting; while [ "$(stty size)" != "40 100" ]; do sleep 0.05; done; echo resized; sleep 100'
            proc = subprocess.Popen([cordon, "exec", "ttybox", "-it", "--", "/bin/sh", "-c", script],
                                    stdin=slave, stdout=slave, stderr=slave, start_new_session=True, preexec_fn=ctty)
            def drain():
                # What the command wrote just before it ended may still wait in the pty.
                rest = b""
                while select.select([master], [], [], 0.3)[0]:
                    try: chunk = os.read(master, 65536)
                    except OSError: break
                    if not chunk: break
                    rest += chunk
                return rest
            out, deadline, resized, interrupted = b"", time.time() + 60, False, 0.0
            while time.time() < deadline:
                r, _, _ = select.select([master], [], [], 0.2)
                if r:
                    try: out += os.read(master, 65536)
                    except OSError: break
                if b"waiting" in out and not resized:
                    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
                    proc.send_signal(signal.SIGWINCH)
                    resized = True
                # Ctrl-C, and again a second later if the first was lost: dash catches a SIGINT
                # that lands while it forks `sleep` (the child, still dash, swallows it) and then
                # waits for the sleep, as it would at the user's own terminal.
                if b"resized" in out and time.time() - interrupted > 1:
                    os.write(master, b"\x03")
                    interrupted = time.time()
                if proc.poll() is not None:
                    break
            proc.wait(timeout=10)
            out += drain()
            print("status", proc.returncode)
            print("modes-restored", termios.tcgetattr(slave) == before)
            print(out.decode(errors="replace"))
            # `echo task | cordon exec …` at a terminal: stdin stays the pipe (its EOF ends cat),
            # stdout is the pty.
            piped = subprocess.Popen([cordon, "exec", "ttybox", "--", "/bin/sh", "-c", "cat; tty <&1"],
                                     stdin=subprocess.PIPE, stdout=slave, stderr=slave, start_new_session=True, preexec_fn=ctty)
            piped.stdin.write(b"piped-task\n"); piped.stdin.close()
            out, deadline = b"", time.time() + 60
            while time.time() < deadline:
                r, _, _ = select.select([master], [], [], 0.2)
                if r:
                    try: out += os.read(master, 65536)
                    except OSError: break
                elif piped.poll() is not None:
                    break
            piped.wait(timeout=10)
            out += drain()
            print("piped-status", piped.returncode)
            print(out.decode(errors="replace"))
            """#
        let r = try await SandboxHarness.run(
            ["/usr/bin/python3", "-c", driver, SandboxHarness.cordon], environment: h.environment(), directory: h.workspace, timeout: 90)
        #expect(r.stdout.contains("status 130"), "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("modes-restored True"), "\(r.stdout)")
        #expect(r.stdout.contains("/dev/pts/") || r.stdout.contains("/dev/console"), "tty names a terminal: \(r.stdout)")
        #expect(!r.stdout.contains("not a tty"), "\(r.stdout)")
        #expect(r.stdout.contains("24 80"), "\(r.stdout)")
        #expect(r.stdout.contains("resized"), "\(r.stdout)")
        #expect(r.stdout.contains("piped-status 0"), "\(r.stdout)")
        #expect(r.stdout.contains("piped-task"), "\(r.stdout)")
    }

    /// The supervisor killed with SIGKILL: no process of the sandbox is left, exec says it is not
    /// running, and `start` brings it back with its upper layer intact.
    @Test func aKilledSupervisorLeavesNothingAndStartRecovers() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup(downing: ["crash"]) }
        try await Self.up(h, "crash")
        let wrote = try await Self.exec(h, "crash", "echo kept > /workspace/kept; sleep \(Self.crashSleep) >/dev/null 2>&1 &")
        #expect(wrote.status == 0, "\(wrote.stderr)")
        let inside = try #require(Self.hostProcesses(containing: "sleep \(Self.crashSleep)").first)
        let network = try #require(try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(inside)/ns/net"))
        let events = try String(contentsOfFile: h.state + "/cordon/sandboxes/crash/events.jsonl", encoding: .utf8)
        let upLine = try #require(events.split(separator: "\n").last { $0.contains(#""event":"up""#) })
        let pidText = try #require(upLine.split(separator: #""supervisor_pid":"#).last?.prefix { $0.isNumber })
        let supervisor = try #require(Int32(pidText))
        #expect(kill(supervisor, SIGKILL) == 0)
        let deadline = Date().addingTimeInterval(30)
        while (!Self.hostProcesses(containing: "sleep \(Self.crashSleep)").isEmpty || kill(supervisor, 0) == 0) && Date() < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(Self.hostProcesses(containing: "sleep \(Self.crashSleep)").isEmpty, "a process of the sandbox outlived its supervisor")
        // No process is left in the sandbox's network namespace (nothing holds it: it is gone).
        let holders = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter {
            Int32($0) != nil && (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\($0)/ns/net")) == network
        }
        #expect(holders.isEmpty, "processes still in the sandbox's network namespace \(network): \(holders)")
        let stopped = try await Self.exec(h, "crash", "true")
        #expect(stopped.status != 0 && stopped.stderr.contains("sandbox crash is not running"), "\(stopped.stderr)")
        let start = try await h.cordon(["start", "crash"])
        #expect(start.status == 0, "\(start.stderr)")
        let back = try await Self.exec(h, "crash", "cat /workspace/kept")
        #expect(back.stdout == "kept\n", "\(back.stderr)")
    }

    /// down, then exec: a clear "not running"; an unknown name: one wording, `cordon ls` as the fix;
    /// up of a running name and start of a running sandbox: "already running".
    @Test func misuseGetsClearErrors() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup(downing: ["busy"]) }
        try await Self.up(h, "busy")
        let again = try await h.cordon(["up", "--name", "busy", "--workspace", h.workspace])
        #expect(again.status != 0 && again.stderr.contains("sandbox busy is already running"), "\(again.stderr)")
        let startRunning = try await h.cordon(["start", "busy"])
        #expect(startRunning.status != 0 && startRunning.stderr.contains("already running"), "\(startRunning.stderr)")
        let down = try await h.cordon(["down", "busy"])
        #expect(down.status == 0, "\(down.stderr)")
        let exec = try await h.cordon(["exec", "busy", "--", "true"])
        #expect(exec.status != 0)
        #expect(exec.stderr.contains("sandbox busy is not running") && exec.stderr.contains("cordon start busy"), "\(exec.stderr)")
        let downAgain = try await h.cordon(["down", "busy"])
        #expect(downAgain.stderr.contains("sandbox busy is not running"), "\(downAgain.stderr)")
        for command in [["exec", "nosuch", "--", "true"], ["down", "nosuch"], ["start", "nosuch"], ["logs", "nosuch"], ["shell", "nosuch"]] {
            let r = try await h.cordon(command)
            #expect(r.status != 0)
            #expect(r.stderr.contains(#"no sandbox named "nosuch""#) && r.stderr.contains("cordon ls"), "\(command): \(r.stderr)")
        }
        let logs = try await h.cordon(["logs", "busy"])
        #expect(logs.status == 0)
        #expect(logs.stdout.contains(#""event":"up""#) && logs.stdout.contains(#""event":"down""#), "\(logs.stdout)")
    }

    /// `start` refuses a profile changed since `up`; `up --json` prints the documented shape.
    @Test func startRefusesAChangedProfile() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup(downing: ["prof"]) }
        let profile = h.root + "/profile.yaml"
        try "mode: secure\n".write(toFile: profile, atomically: false, encoding: .utf8)
        let up = try await h.cordon(["up", "--name", "prof", "--workspace", h.workspace, "--profile", profile, "--json"])
        #expect(up.status == 0, "\(up.stderr)")
        #expect(up.stdout.contains(#""name": "prof""#) && up.stdout.contains(#""state": "running""#) && up.stdout.contains(#""version": 1"#), "\(up.stdout)")
        #expect((try await h.cordon(["down", "prof"])).status == 0)
        try "mode: secure\nnetwork: none\n".write(toFile: profile, atomically: false, encoding: .utf8)
        let start = try await h.cordon(["start", "prof"])
        #expect(start.status != 0 && start.stderr.contains("changed since `cordon up`"), "\(start.stderr)")
    }

    /// Ending `cordon exec` (SIGTERM, as Ctrl-C or a killed client) ends the command in the
    /// sandbox: it does not linger as an orphan of init.
    @Test func killingExecKillsTheCommand() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup(downing: ["killexec"]) }
        try await Self.up(h, "killexec")
        let client = try RunningProcess(
            [SandboxHarness.cordon, "exec", "killexec", "--", "/bin/sh", "-c", "echo started; exec sleep \(Self.execSleep)"], environment: h.environment(),
            directory: h.workspace)
        #expect(try await client.readLine() == "started")
        #expect(!Self.hostProcesses(containing: "sleep \(Self.execSleep)").isEmpty)
        client.signal(SIGTERM)
        #expect(await client.waitForExit(timeout: .seconds(30)) == 128 + SIGTERM)
        let deadline = Date().addingTimeInterval(30)
        while !Self.hostProcesses(containing: "sleep \(Self.execSleep)").isEmpty && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(Self.hostProcesses(containing: "sleep \(Self.execSleep)").isEmpty, "the command outlived cordon exec")
        let events = try String(contentsOfFile: h.state + "/cordon/sandboxes/killexec/events.jsonl", encoding: .utf8)
        #expect(events.contains(#""event":"exec""#) && events.contains(#""exit":137"#), "\(events)")
    }

    /// `cordon shell` from a real terminal: an interactive shell of the sandbox's, its exit status.
    @Test func shellFromATerminal() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup(downing: ["shellbox"]) }
        try await Self.up(h, "shellbox")
        let driver = #"""
            import os, sys, time, select, termios, fcntl, subprocess
            cordon = sys.argv[1]
            master, slave = os.openpty()
            def ctty():
                fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            proc = subprocess.Popen([cordon, "shell", "shellbox"], stdin=slave, stdout=slave, stderr=slave,
                                    start_new_session=True, preexec_fn=ctty)
            out, deadline, typed = b"", time.time() + 60, False
            while time.time() < deadline and proc.poll() is None:
                r, _, _ = select.select([master], [], [], 0.2)
                if r:
                    try: out += os.read(master, 65536)
                    except OSError: break
                # Typed once the shell prompts (cordon's raw mode flushes what came before).
                if b"$ " in out and not typed:
                    os.write(master, b"echo in-$(hostname)-$(id -un); exit 5\r")
                    typed = True
            proc.wait(timeout=10)
            # What the shell wrote just before it exited may still wait in the pty.
            while select.select([master], [], [], 0.5)[0]:
                try: chunk = os.read(master, 65536)
                except OSError: break
                if not chunk: break
                out += chunk
            print("status", proc.returncode)
            print(out.decode(errors="replace"))
            """#
        let r = try await SandboxHarness.run(
            ["/usr/bin/python3", "-c", driver, SandboxHarness.cordon], environment: h.environment(), directory: h.workspace, timeout: 90)
        #expect(r.stdout.contains("status 5"), "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("in-shellbox-agent"), "\(r.stdout)")
    }

    /// The warnings `run` says at every start reach the user of `up` too (the supervisor's own
    /// output goes to its log).
    @Test func upSaysTheWarningsOfAStart() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup(downing: ["warned"]) }
        let r = try await h.cordon(["up", "--name", "warned", "--workspace", h.workspace, "--mode", "unsafe"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("WARNING: unsafe mode"), "\(r.stderr)")
    }
}
