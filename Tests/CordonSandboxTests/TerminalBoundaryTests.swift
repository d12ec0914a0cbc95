import CordonTestSupport
import Foundation
import Glibc
import Testing

/// The user's terminal is not the sandbox's: cordon runs under a pty the test owns (as a person's
/// terminal), with the standard streams mixed as shells mix them, and the agent attacks it.
@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "needs user namespaces"), .timeLimit(.minutes(5)))
struct TerminalBoundaryTests {
    /// Python shared by the drivers: `run(stdin, stdout, stderr)` starts cordon in a new session
    /// whose controlling terminal is the test's pty (each stream "tty", "pipe", or a file path)
    /// and collects what reaches the terminal until cordon exits.
    static let prelude = """
        import os, sys, time, select, termios, fcntl, signal, subprocess
        cordon, workspace, profile = sys.argv[1], sys.argv[2], sys.argv[3]
        master, slave = os.openpty()
        os.set_blocking(slave, False)
        def ctty():
            # cordon's controlling terminal, as a shell's, even when no stream is the terminal
            # (the descriptor is still open here; close_fds closes it after).
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        def stream(kind, mode):
            if kind == "tty": return slave
            if kind == "pipe": return subprocess.PIPE
            return open(kind, mode)
        def run(command, stdin="tty", stdout="tty", stderr="tty", feed=None, on_output=None):
            argv = [cordon, "run", "--name", "term", "--workspace", workspace] + (["--profile", profile] if profile else []) + ["--"] + command
            proc = subprocess.Popen(argv, stdin=stream(stdin, "rb"), stdout=stream(stdout, "wb"), stderr=stream(stderr, "wb"),
                                    start_new_session=True, preexec_fn=ctty)
            if feed is not None:
                proc.stdin.write(feed); proc.stdin.close()
            out, deadline = b"", time.time() + 60
            while time.time() < deadline:
                r, _, _ = select.select([master], [], [], 0.2)
                if r:
                    out += os.read(master, 65536)
                    if on_output: on_output(proc, out)
                elif proc.poll() is not None:
                    break
            proc.wait(timeout=10)
            return proc.returncode, out
        def pending_input():
            try: return os.read(slave, 4096)
            except BlockingIOError: return b""
        """

    static func drive(_ body: String, profile: String? = nil, arguments: [String] = []) async throws -> (
        stdout: String, stderr: String, harness: SandboxHarness
    ) {
        let h = try SandboxHarness()
        var profilePath = ""
        if let profile {
            profilePath = h.root + "/profile.yaml"
            try h.write("profile.yaml", profile, in: h.root)
        }
        let r = try await SandboxHarness.run(
            ["/usr/bin/python3", "-c", prelude + "\n" + body, SandboxHarness.cordon, h.workspace, profilePath] + arguments,
            environment: h.environment(), directory: h.workspace)
        return (r.stdout, r.stderr, h)
    }

    /// `echo task | cordon run …` from a terminal: the agent (stdin a pipe, stdout the terminal)
    /// tries to read what the user types at the real terminal, turn its echo off, and open
    /// /dev/tty. The keystrokes stay in the user's terminal; its modes are untouched.
    @Test func theAgentCannotReadTheUsersKeystrokes() async throws {
        let (out, err, h) = try await Self.drive(
            #"""
            agent = r'''
            import os, select, termios, time, sys
            fds = [1, 2]
            try:
                fds.append(os.open("/dev/tty", os.O_RDWR))
                print("devtty-open", flush=True)
            except OSError as e:
                print("devtty-error", e.errno, flush=True)
            for fd in fds:
                try:
                    a = termios.tcgetattr(fd); a[3] &= ~termios.ECHO; termios.tcsetattr(fd, termios.TCSANOW, a)
                except Exception:
                    pass
            print("task:", sys.stdin.read().strip(), flush=True)
            print("ready", flush=True)
            got, end = b"", time.time() + 4
            while time.time() < end and b"\n" not in got:
                r, _, _ = select.select(fds, [], [], 0.2)
                for fd in r:
                    try: got += os.read(fd, 100)
                    except OSError: pass
            print("stolen=" + got.hex(), flush=True)
            '''
            before = termios.tcgetattr(master)
            typed = [False]
            def type_secret(proc, out):
                if not typed[0] and b"ready" in out:
                    os.write(master, b"hunter2\n")
                    typed[0] = True
            code, out = run(["/usr/bin/python3", "-c", agent], stdin="pipe", feed=b"the task\n", on_output=type_secret)
            print(out.decode(errors="replace").replace("\r", ""))
            print("exit", code)
            print("modes-same", termios.tcgetattr(master) == before)
            print("left-in-terminal=" + pending_input().hex())
            """#)
        defer { h.cleanup() }
        #expect(out.contains("task: the task"), "\(out) \(err)")
        #expect(out.contains("stolen="), "\(out) \(err)")
        #expect(!out.contains("stolen=" + Array("hunter2".utf8).map { String(format: "%02x", $0) }.joined()), "the agent read the user's keystrokes: \(out)")
        #expect(out.contains("left-in-terminal=" + Array("hunter2\n".utf8).map { String(format: "%02x", $0) }.joined()), "\(out)")
        #expect(out.contains("modes-same True"), "\(out)")
        #expect(out.contains("devtty-open"), "/dev/tty is the sandbox's pty: \(out)")
    }

    /// Streams that are not terminals stay what they are: a pipe in, a file out, while the other
    /// streams are the terminal; and stdin a terminal with stdout redirected.
    @Test func pipesAndFilesStayPipesAndFiles() async throws {
        let (out, err, h) = try await Self.drive(
            #"""
            target = workspace + "/../out.txt"
            code, _ = run(["/bin/cat"], stdin="pipe", stdout=target, feed=b"piped-through\n")
            print("cat", code, open(target).read().strip())
            errs = workspace + "/../err.txt"
            code, screen = run(["/bin/sh", "-c", "echo to-screen; echo to-err >&2"], stderr=errs)
            written = open(errs).read()  # cordon's own notices go there too, as they should
            print("err", code, "to-err" in written, "to-screen" in written, b"to-screen" in screen, b"to-err" in screen)
            code, screen = run(["/bin/sh", "-c", "test -t 0 && echo stdin-tty; test -t 1 || echo stdout-file; echo prompt >&2"], stdout=target)
            print("redirected", code, open(target).read().replace("\n", " ").strip(), b"prompt" in screen)
            """#)
        defer { h.cleanup() }
        #expect(out.contains("cat 0 piped-through"), "\(out) \(err)")
        #expect(out.contains("err 0 True False True False"), "\(out) \(err)")
        #expect(out.contains("redirected 0 stdin-tty stdout-file True"), "\(out) \(err)")
    }

    /// No stream a terminal, but cordon has one (its controlling terminal): neither init nor the
    /// command is in its session, so /dev/tty does not open and /proc shows no terminal.
    @Test func noProcessOfTheSandboxHasTheHostsTerminal() async throws {
        let (out, err, h) = try await Self.drive(
            #"""
            agent = "import os\nfor pid in ('1', 'self'):\n    print('tty_nr', pid, open('/proc/%s/stat' % pid).read().rsplit(')', 1)[1].split()[4])\ntry:\n    os.open('/dev/tty', os.O_RDWR); print('devtty-open')\nexcept OSError as e:\n    print('devtty-error', e.errno)"
            target = workspace + "/../out.txt"
            code, screen = run(["/usr/bin/python3", "-c", agent], stdin="pipe", stdout=target, stderr=target + ".err", feed=b"")
            print("exit", code)
            print(open(target).read())
            """#)
        defer { h.cleanup() }
        #expect(out.contains("tty_nr 1 0\n") && out.contains("tty_nr self 0\n"), "\(out) \(err)")
        #expect(out.contains("devtty-error \(ENXIO)"), "\(out) \(err)")
    }

    /// The terminal's modes come back however the run ends.
    @Test func terminalModesAreRestoredOnEveryExitPath() async throws {
        let (out, err, h) = try await Self.drive(
            #"""
            loop = ["/bin/sh", "-c", "stty raw -echo; echo ready; while :; do sleep 0.1; done"]
            def signal_when_ready(sig):
                def act(proc, out):
                    if b"ready" in out and proc.poll() is None and not getattr(act, "done", False):
                        act.done = True
                        os.kill(proc.pid, sig)
                return act
            cases = [
                ("exit", ["/bin/sh", "-c", "stty raw -echo; exit 0"], None),
                ("killed", ["/bin/sh", "-c", "stty raw -echo; kill -9 $$"], None),
                ("sigint", loop, signal_when_ready(signal.SIGINT)),
                ("sigterm", loop, signal_when_ready(signal.SIGTERM)),
                ("sighup", loop, signal_when_ready(signal.SIGHUP)),
            ]
            for name, command, act in cases:
                before = termios.tcgetattr(master)
                code, _ = run(command, on_output=act)
                print(name, code, "same" if termios.tcgetattr(master) == before else "CHANGED")
            """#)
        defer { h.cleanup() }
        for name in ["exit", "killed", "sigint", "sigterm", "sighup"] {
            #expect(
                out.contains("\(name) ") && out.split(separator: "\n").contains { $0.hasPrefix(name + " ") && $0.hasSuffix(" same") }, "\(name): \(out) \(err)")
        }
    }

    @Test func setUpErrorsRestoreTheTerminal() async throws {
        let (out, err, h) = try await Self.drive(
            #"""
            before = termios.tcgetattr(master)
            code, screen = run(["/bin/true"])
            print("code", code, "same" if termios.tcgetattr(master) == before else "CHANGED")
            """#, profile: "name: broken\ncopy:\n  - {host: /nonexistent-cordon-file, sandbox: /etc/x, optional: false}\n")
        defer { h.cleanup() }
        #expect(!out.contains("code 0 "), "\(out) \(err)")
        #expect(out.contains(" same"), "\(out) \(err)")
    }

    /// TIOCSTI (typing into the terminal's input queue) stays denied on the sandbox's pty.
    @Test func tiocstiIsDeniedOnThePty() async throws {
        let (out, err, h) = try await Self.drive(
            #"""
            agent = "import fcntl, termios, os\ntry:\n    fcntl.ioctl(0, termios.TIOCSTI, b'x'); print('injected')\nexcept OSError as e:\n    print('tiocsti', e.errno)"
            code, screen = run(["/usr/bin/python3", "-c", agent])
            print(screen.decode(errors="replace").replace("\r", ""))
            """#)
        defer { h.cleanup() }
        #expect(out.contains("tiocsti \(EPERM)"), "\(out) \(err)")
        #expect(!out.contains("injected"))
    }

    static let hostile = #"printf '\033[31mRED\033[0m\033]52;c;SGVsbG8=\007\033]0;pwned\007\033[21t\033P$qm\033\\done\n'"#

    /// What reaches the terminal when the agent prints `hostile` (cordon's stderr included).
    static func hostileScreen(profile: String? = nil) async throws -> (screen: String, output: String) {
        let (out, err, h) = try await drive(
            #"""
            code, screen = run(["/bin/sh", "-c", sys.argv[4] + "; printf '\\033[?1049h\\033[?1000hTUI'"])
            print("exit", code)
            print("screen=" + screen.hex())
            """#, profile: profile, arguments: [hostile])
        h.cleanup()
        return (screen(out), out + err)
    }

    /// Clipboard writes, titles and report requests never reach the user's terminal; colours do;
    /// the modes the agent left on are turned off.
    @Test func dangerousSequencesNeverReachTheTerminal() async throws {
        let (screen, output) = try await Self.hostileScreen()
        #expect(output.contains("exit 0"), "\(output)")
        #expect(screen.contains("\u{1B}[31mRED\u{1B}[0m"), "colours must pass: \(screen.debugDescription)")
        #expect(screen.contains("done") && screen.contains("\u{1B}[?1049h\u{1B}[?1000hTUI"), "\(screen.debugDescription)")
        for bad in ["\u{1B}]52", "\u{1B}]0;", "\u{1B}[21t", "\u{1B}P"] {
            #expect(!screen.contains(bad), "\(bad.debugDescription) reached the terminal: \(screen.debugDescription)")
        }
        #expect(screen.contains("TUI\u{1B}[?1000l\u{1B}[?1049l"), "modes left on are undone: \(screen.debugDescription)")
        #expect(screen.contains("terminal filter dropped") && screen.contains("1 clipboard"), "the notice: \(screen.debugDescription)")
    }

    /// `terminal.filter: off` relays raw (and says so): the control for the test above.
    @Test func filterOffRelaysRawAndWarns() async throws {
        let (screen, output) = try await Self.hostileScreen(profile: "name: raw\nterminal:\n  filter: off\n")
        #expect(screen.contains("\u{1B}]52;c;SGVsbG8="), "\(output)")
        #expect(screen.contains("WARNING: terminal.filter: off"), "the warning goes to the terminal (stderr): \(screen.debugDescription)")
    }

    static func screen(_ out: String) -> String {
        guard let line = out.split(separator: "\n").first(where: { $0.hasPrefix("screen=") }) else { return "" }
        let hex = Array(line.dropFirst("screen=".count).utf8)
        var bytes: [UInt8] = []
        var i = 0
        while i + 1 < hex.count {
            if let b = UInt8(String(decoding: hex[i...(i + 1)], as: UTF8.self), radix: 16) { bytes.append(b) }
            i += 2
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
