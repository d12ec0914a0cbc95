import CordonTestSupport
import CCordon
import CordonConfig
import Foundation
import Glibc
import Testing
@testable import CordonSandbox

/// `resources.disk` / `resources.inodes` hold against an agent that tries to fill the host's disk
/// through the overlay upper layer: the sandbox ends frozen with the upper near the limit (within
/// the watcher's slack), says why, and a sandbox under the limit is untouched.
@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"), .serialized, .timeLimit(.minutes(5)))
struct DiskLimitTests {
    func upper(_ h: SandboxHarness, _ name: String) -> String { h.state + "/cordon/sandboxes/\(name)/upper" }
    func events(_ h: SandboxHarness, _ name: String) -> String { h.state + "/cordon/sandboxes/\(name)/events.jsonl" }

    /// The JSON objects of events.jsonl whose "event" is `kind`.
    func events(_ h: SandboxHarness, _ name: String, kind: String) -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: events(h, name), encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], object["event"] as? String == kind else {
                return nil
            }
            return object
        }
    }

    /// A `cordon run` in the background, to be signalled like a user would.
    final class Running: Sendable {
        let process: RunningProcess

        init(_ h: SandboxHarness, _ arguments: [String]) throws {
            process = try RunningProcess([SandboxHarness.cordon] + arguments, environment: h.environment(), directory: h.workspace)
        }

        /// Waits (bounded) for the exit; returns status, stdout, stderr.
        func finish(timeout: Double = 60) async throws -> SandboxHarness.Result {
            try await process.finish(timeout: .seconds(timeout))
        }
    }

    /// Polls until `condition` holds or `seconds` pass.
    func waitFor(_ seconds: Double, _ condition: () -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return condition()
    }

    /// Runs `script` with `profile`, expects the disk limit to freeze it, checks the upper stays
    /// put while frozen, then ends it with SIGINT as a user's Ctrl-C would. Returns the result and
    /// the upper's usage while frozen.
    func runToTheLimit(_ h: SandboxHarness, name: String, profile: String, script: String) async throws -> (SandboxHarness.Result, DiskWatch.Usage) {
        try await runToTheLimit(h, name: name, profile: profile, command: ["/bin/sh", "-c", script])
    }

    /// The same for any command.
    func runToTheLimit(_ h: SandboxHarness, name: String, profile: String, command: [String]) async throws -> (SandboxHarness.Result, DiskWatch.Usage) {
        try h.write("profile.yaml", profile, in: h.root)
        let run = try Running(h, ["run", "--profile", h.root + "/profile.yaml", "--workspace", h.workspace, "--name", name, "--"] + command)
        let tripped = try await waitFor(60) { !events(h, name, kind: "disk_limit").isEmpty || !run.process.isRunning }
        #expect(tripped && run.process.isRunning, "the sandbox was not frozen at its limit")
        // Frozen: nothing more lands in the upper.
        let frozen = DiskWatch.measure([upper(h, name)])
        try await Task.sleep(for: .milliseconds(500))
        let later = DiskWatch.measure([upper(h, name)])
        #expect(later == frozen, "the upper kept growing while frozen: \(frozen) then \(later)")
        kill(run.process.pid, SIGINT)
        let result = try await run.finish()
        return (result, later)
    }

    /// 200 MiB in 1 MiB files (each process under the single-file cap) against `disk: 20m`.
    @Test(.timeLimit(.minutes(2)))
    func writingPastTheDiskLimitFreezesTheSandbox() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let script = "i=0; while [ $i -lt 200 ]; do head -c 1048576 /dev/zero > /workspace/f$i || exit 3; i=$((i+1)); done; echo wrote-all"
        let (r, usage) = try await runToTheLimit(h, name: "fill", profile: "name: fill\nresources:\n  disk: 20m\n", script: script)
        #expect(!r.stdout.contains("wrote-all"), "\(r.stdout)")
        #expect(r.status == 137, "\(r.stderr)")
        #expect(r.stderr.contains("sandbox fill reached its disk limit"), "\(r.stderr)")
        #expect(r.stderr.contains("resources.disk"))
        #expect(r.stderr.contains("end it with Ctrl-C"))
        #expect(r.stderr.contains("cordon diff fill"))
        #expect(r.stderr.contains("frozen and ended at its disk limit"), "the summary says so: \(r.stderr)")
        // The slack: what lands between two measurements (DiskWatch: 0.1 s, less near the limit),
        // ~5 MiB on a quiet machine, up to ~100 MiB seen here while every suite (the selftest's
        // sandboxes among them) runs at once and the watcher waits for a CPU like everything
        // else; the run must still be stopped well short of the 200 MiB attempted.
        #expect(usage.bytes >= 20 << 20)
        #expect(usage.bytes < 160 << 20, "upper holds \(usage.bytes) bytes")
        let event = try #require(events(h, "fill", kind: "disk_limit").first)
        #expect(event["limit_bytes"] as? Int == 20 << 20)
        #expect(["cgroup freezer", "SIGSTOP"].contains(event["frozen_by"] as? String ?? ""), "\(event)")
    }

    /// fallocate allocates blocks without writing them, gigabytes in milliseconds: 40 files of
    /// 19 MiB (each under the single-file cap) allocated in a loop used to land all 760 MiB before
    /// the watcher's next measurement. The
    /// sandbox's fallocate is refused (EOPNOTSUPP), so posix_fallocate writes, at the pace the
    /// watcher keeps up with.
    @Test(.timeLimit(.minutes(2)))
    func fallocateDoesNotOutrunTheWatcher() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let script =
            "import os\nfor i in range(40):\n    fd = os.open('/workspace/f%d' % i, os.O_CREAT | os.O_WRONLY)\n    os.posix_fallocate(fd, 0, 19 << 20)\nprint('allocated-all')\n"
        let (r, usage) = try await runToTheLimit(
            h, name: "falloc", profile: "name: falloc\nresources:\n  disk: 20m\n", command: ["/usr/bin/python3", "-c", script])
        #expect(!r.stdout.contains("allocated-all"), "\(r.stdout)")
        // The watcher's slack at the pace of writes: ~10 MiB here when quiet, ~125 MiB with every
        // suite and a build running at once; far short of the 760 MiB asked.
        #expect(usage.bytes < 380 << 20, "upper holds \(usage.bytes) bytes")
    }

    /// fallocate(2) itself says "not supported" inside (as on a filesystem without it); punching
    /// a hole, which frees space, still works.
    @Test(.timeLimit(.minutes(1)))
    func fallocateIsRefusedButPunchingHolesWorks() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let script =
            "head -c 65536 /dev/zero > /workspace/a; fallocate -l 1M /workspace/b; echo alloc=$?; fallocate -p -o 0 -l 4096 /workspace/a; echo punch=$?"
        let r = try await h.cordon(["run", "--workspace", h.workspace, "--name", "fa", "--", "/bin/sh", "-c", script])
        #expect(r.stdout.contains("alloc=1"), "\(r.stdout) \(r.stderr)")
        #expect(r.stderr.contains("Operation not supported"), "\(r.stderr)")
        #expect(r.stdout.contains("punch=0"), "\(r.stdout) \(r.stderr)")
    }

    /// In a terminal (raw mode, the sandbox frozen so its own Ctrl-C handling cannot run), the
    /// user's Ctrl-C ends the frozen sandbox; the message reads right (each line starts at column 0).
    @Test(.timeLimit(.minutes(2)))
    func ctrlCInTheTerminalEndsAFrozenSandbox() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("profile.yaml", "name: tty\nresources:\n  disk: 20m\n", in: h.root)
        let driver = """
            import os, pty, time, select, sys
            pid, fd = pty.fork()
            if pid == 0:
                os.execv(sys.argv[1], sys.argv[1:])
            buf, sent, deadline = b"", None, time.time() + 60
            while time.time() < deadline:
                r, _, _ = select.select([fd], [], [], 0.2)
                if r:
                    try: data = os.read(fd, 4096)
                    except OSError: break
                    if not data: break
                    buf += data
                if sent is None and b"reached its disk limit" in buf:
                    time.sleep(0.3); os.write(fd, b"\\x03"); sent = time.time()
            _, status = os.waitpid(pid, 0)
            sys.stdout.write(buf.decode(errors="replace"))
            print("exit=%d" % os.waitstatus_to_exitcode(status))
            """
        let script = "i=0; while [ $i -lt 200 ]; do head -c 1048576 /dev/zero > /workspace/f$i; i=$((i+1)); done; echo wrote-all"
        let r = try await SandboxHarness.run(
            [
                "/usr/bin/python3", "-c", driver, SandboxHarness.cordon, "run", "--profile", h.root + "/profile.yaml", "--workspace", h.workspace, "--name",
                "tty", "--", "/bin/sh", "-c", script,
            ],
            environment: h.environment(), directory: h.workspace, timeout: 90)
        #expect(r.stdout.contains("exit=137"), "\(r.stdout) \(r.stderr)")
        #expect(!r.stdout.contains("wrote-all"))
        #expect(r.stdout.contains("(resources.disk); it is frozen"), "\(r.stdout)")
        #expect(r.stdout.contains("deleted.\r\ncordon: end it with Ctrl-C"), "\(r.stdout)")
    }

    /// One file of 100 MiB against `disk: 20m`: RLIMIT_FSIZE refuses it at 20 MiB.
    @Test(.timeLimit(.minutes(2)))
    func aSingleFileStopsAtTheLimit() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let script = "trap '' XFSZ; head -c 104857600 /dev/zero > /workspace/big; echo status=$?; ls -l /workspace/big"
        try h.write("profile.yaml", "name: one\nresources:\n  disk: 20m\n", in: h.root)
        let run = try Running(h, ["run", "--profile", h.root + "/profile.yaml", "--workspace", h.workspace, "--name", "one", "--", "/bin/sh", "-c", script])
        _ = try await waitFor(60) { !events(h, "one", kind: "disk_limit").isEmpty || !run.process.isRunning }
        kill(run.process.pid, SIGINT)
        let r = try await run.finish()
        var st = stat()
        #expect(lstat(upper(h, "one") + "/big", &st) == 0)
        #expect(st.st_size <= 20 << 20, "the file reached \(st.st_size) bytes")
        #expect(!r.stdout.contains("status=0"), "\(r.stdout) \(r.stderr)")
    }

    /// With no terminal attached (a script, CI) nobody can press Ctrl-C: a frozen sandbox is ended
    /// after the unattended hold instead of holding the run forever.
    @Test(.timeLimit(.minutes(1)))
    func aFrozenRunWithNoTerminalIsEndedAfterTheHold() throws {
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["100"]
        try sleeper.run()
        let pidfd = ccordon_pidfd_open(sleeper.processIdentifier)
        #expect(pidfd >= 0)
        defer { close(pidfd) }
        kill(sleeper.processIdentifier, SIGSTOP)  // frozen, as at the limit
        let started = Date()
        DiskWatch.holdFrozen(pidfd: pidfd, signalFD: -1, input: nil, unattended: 0.3)
        sleeper.waitUntilExit()
        #expect(sleeper.terminationReason == .uncaughtSignal && sleeper.terminationStatus == SIGKILL)
        #expect(Date().timeIntervalSince(started) < 30)
    }

    /// Files deleted but held open still fill the host's disk: 5 × 15 MiB (each under the
    /// single-file cap) written after their unlink, against `disk: 20m`.
    @Test(.timeLimit(.minutes(2)))
    func filesDeletedButHeldOpenCount() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let program = """
            import os, time
            fds = []
            for i in range(5):
                fd = os.open('/workspace/hidden%d' % i, os.O_CREAT | os.O_WRONLY, 0o600)
                os.unlink('/workspace/hidden%d' % i)
                fds.append(fd)
            chunk = b'x' * 1048576
            # Paced (2.5 s for all): on an idle machine 75 MiB reach the page cache within one of
            # the watcher's periods, and the test would race it instead of testing what it counts.
            for fd in fds:
                for _ in range(15):
                    os.write(fd, chunk)
                    time.sleep(0.033)
            print('wrote-all', flush=True)
            """
        try h.write("hide.py", program, in: h.workspace)
        let (r, _) = try await runToTheLimit(
            h, name: "hide", profile: "name: hide\nresources:\n  disk: 20m\n", command: ["/usr/bin/python3", "/workspace/hide.py"])
        #expect(!r.stdout.contains("wrote-all"), "\(r.stdout) \(r.stderr)")
        let event = try #require(events(h, "hide", kind: "disk_limit").first)
        let bytes = event["bytes"] as? Int ?? 0
        // It tripped on what was held open, before the 75 MiB were all written ("wrote-all" above).
        // The slack (one period of python writing to the page cache, ~24 MiB on a quiet machine)
        // depends on the load and is stated in docs/configuration.md, not asserted here.
        #expect(bytes >= 20 << 20, "\(event)")
    }

    /// The same with files kept only as memory mappings (descriptor closed, file deleted): found
    /// through /proc/PID/map_files, which only root may follow.
    @Test(.enabled(if: SandboxHarness.isRoot, "map_files can be followed only with CAP_CHECKPOINT_RESTORE"), .timeLimit(.minutes(2)))
    func filesDeletedButMappedCount() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let program = """
            import ctypes, os, time
            libc = ctypes.CDLL(None, use_errno=True)
            libc.mmap.restype = ctypes.c_void_p
            libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
            size = 15 << 20
            # 300 MiB against 20: a watcher slowed by a loaded host still catches it well before.
            for i in range(20):
                path = '/workspace/mapped%d' % i
                fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
                os.ftruncate(fd, size)
                base = libc.mmap(None, size, 3, 1, fd, 0)  # PROT_READ|PROT_WRITE, MAP_SHARED
                os.close(fd)  # the mapping alone keeps the file
                os.unlink(path)
                for off in range(0, size, 4096): ctypes.c_char.from_address(base + off).value = b'x'
                libc.msync(ctypes.c_void_p(base), ctypes.c_size_t(size), 4)  # MS_SYNC
            print('wrote-all', flush=True)
            time.sleep(2)
            """
        try h.write("map.py", program, in: h.workspace)
        let (r, _) = try await runToTheLimit(
            h, name: "map", profile: "name: map\nresources:\n  disk: 20m\n", command: ["/usr/bin/python3", "/workspace/map.py"])
        #expect(!r.stdout.contains("wrote-all"), "\(r.stdout) \(r.stderr)")
        #expect(!events(h, "map", kind: "disk_limit").isEmpty)
    }

    /// 100,000 empty files against `inodes: 5000`.
    @Test(.timeLimit(.minutes(3)))
    func creatingFilesPastTheInodeLimitFreezesTheSandbox() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let script = "exec /usr/bin/python3 -c \"\nfor i in range(100000): open('/workspace/e%d' % i, 'w').close()\nprint('made-all', flush=True)\""
        let (r, usage) = try await runToTheLimit(h, name: "many", profile: "name: many\nresources:\n  inodes: 5000\n", script: script)
        #expect(!r.stdout.contains("made-all"), "\(r.stdout)")
        #expect(r.stderr.contains("sandbox many reached its disk limit"), "\(r.stderr)")
        #expect(r.stderr.contains("resources.inodes"))
        #expect(usage.inodes >= 5000)
        // Slack: what python creates before the watcher, waiting for a CPU like everything else,
        // measures again: ~10,000 on a quiet run, ~33,000 seen while every suite runs at once;
        // still well short of the 100,000 attempted.
        #expect(usage.inodes < 60000, "upper holds \(usage.inodes) entries")
    }

    /// Under the limit nothing happens: exit 0, no event, no message; the start event names the limits.
    @Test(.timeLimit(.minutes(2)))
    func aSandboxUnderTheLimitIsUntouched() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("profile.yaml", "name: calm\nresources:\n  disk: 20m\n  inodes: 5000\n", in: h.root)
        let r = try await h.cordon([
            "run", "--profile", h.root + "/profile.yaml", "--workspace", h.workspace, "--name", "calm", "--", "/bin/sh", "-c",
            "head -c 5242880 /dev/zero > /workspace/five && mkdir /workspace/d && touch /workspace/d/a /workspace/d/b && echo ok",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "ok\n")
        #expect(!r.stderr.contains("disk limit"), "\(r.stderr)")
        #expect(events(h, "calm", kind: "disk_limit").isEmpty)
        let start = try #require(events(h, "calm", kind: "start").first)
        #expect(start["disk_limit_bytes"] as? Int == 20 << 20)
        #expect(start["inode_limit"] as? Int == 5000)
        var st = stat()
        #expect(stat(upper(h, "calm") + "/five", &st) == 0 && st.st_size == 5 << 20)
    }

    /// No `resources.disk`: the default (10 GiB and 1,000,000 entries, or half of what the state
    /// filesystem has free) is enforced, and a single file is capped at it.
    @Test(.timeLimit(.minutes(2)))
    func theDefaultAppliesWhenTheFieldIsAbsent() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("profile.yaml", "name: plain\n", in: h.root)
        let r = try await h.cordon([
            "run", "--profile", h.root + "/profile.yaml", "--workspace", h.workspace, "--name", "plain", "--", "/bin/sh", "-c", "ulimit -f",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        var fs = statvfs()
        #expect(statvfs(h.state, &fs) == 0)
        let expected = Profile.Resources().diskLimits(
            freeBytes: UInt64(fs.f_bavail) * UInt64(fs.f_frsize), freeInodes: fs.f_files > 0 ? UInt64(fs.f_favail) : nil)
        let start = try #require(events(h, "plain", kind: "start").first)
        let bytes = try #require(start["disk_limit_bytes"] as? Int)
        // Free space moves a little between the run and this check.
        #expect(abs(bytes - Int(expected.bytes)) < 64 << 20, "\(bytes) vs \(expected.bytes)")
        #expect(bytes <= 10 << 30)
        #expect((start["inode_limit"] as? Int ?? 0) <= 1_000_000)
        #expect((start["inode_limit"] as? Int ?? 0) > 0)
        // `ulimit -f` counts 512-byte blocks.
        let blocks = Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        #expect(blocks == bytes / 512, "ulimit -f said \(r.stdout)")
    }

    /// /tmp is tmpfs: not counted by the watcher, because its pages are charged to the
    /// sandbox's memory cgroup (docs/configuration.md, "Disk limits"): 200 MiB into a 1 GiB /tmp
    /// with `memory: 64m` is an OOM kill, not host memory.
    @Test(.enabled(if: SandboxHarness.isRoot, "cgroup limits need a delegated cgroup; rootless falls back to rlimits"), .timeLimit(.minutes(2)))
    func tmpfsWritesAreBoundedByTheMemoryCgroup() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("profile.yaml", "name: mem\nresources:\n  memory: 64m\n  disk: 1g\n", in: h.root)
        let r = try await h.cordon([
            "run", "--profile", h.root + "/profile.yaml", "--workspace", h.workspace, "--name", "mem", "--", "/bin/sh", "-c",
            "head -c 209715200 /dev/zero > /tmp/big; echo wrote",
        ])
        #expect(r.status == 137, "\(r.stdout) \(r.stderr)")
        #expect(!r.stdout.contains("wrote"))
        #expect(r.stderr.contains("OOM kill"))
    }

    /// Fail closed: what cannot be frozen is ended. A process in cordon's own PID namespace is
    /// never stopped namespace-wide (that would stop the host), so it is killed instead.
    @Test func aSandboxThatCannotBeFrozenIsKilled() async throws {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sleep")
        child.arguments = ["30"]
        try child.run()
        let how = try DiskWatch.freeze(cgroup: nil, initPID: child.processIdentifier)
        #expect(how.hasPrefix("killed"), "\(how)")
        child.waitUntilExit()
        #expect(child.terminationReason == .uncaughtSignal && child.terminationStatus == SIGKILL)
        #expect(
            DiskWatch.message(name: "x", trip: .init(usage: .init(), limits: .init(bytes: 1, inodes: 1), frozenBy: how, reason: "r"), supervisor: 1).contains(
                "it was ended instead"))
    }

    @Test func defaultsAreCappedByFreeSpace() {
        let none = Profile.Resources()
        #expect(none.diskLimits(freeBytes: nil, freeInodes: nil) == (10 << 30, 1_000_000))
        #expect(none.diskLimits(freeBytes: 4 << 30, freeInodes: 300_000) == (2 << 30, 150_000))
        #expect(none.diskLimits(freeBytes: 0, freeInodes: 0) == (64 << 20, 10_000))
        let written = Profile.Resources(disk: 20 << 20, inodes: 5000)
        #expect(written.diskLimits(freeBytes: 1 << 20, freeInodes: 10) == (20 << 20, 5000))
    }

    /// The measurement follows no symlink and counts hard links once.
    @Test func measurementStaysInTheTree() throws {
        let root = try TempTree.makeDirectory()
        defer { _ = try? SandboxHarness.runBlocking(["/bin/rm", "-rf", root], environment: nil, timeout: 10) }
        let outside = try TempTree.makeDirectory()
        defer { _ = try? SandboxHarness.runBlocking(["/bin/rm", "-rf", outside], environment: nil, timeout: 10) }
        try Data(count: 1 << 20).write(to: URL(fileURLWithPath: outside + "/big"))
        #expect(symlink(outside, root + "/link") == 0)
        try Data(count: 1 << 20).write(to: URL(fileURLWithPath: root + "/a"))
        #expect(link(root + "/a", root + "/b") == 0)
        let usage = DiskWatch.measure([root])
        #expect(usage.inodes == 3, "\(usage)")  // the directory, the symlink, the file once
        #expect(usage.bytes < 2 << 20, "\(usage)")
    }

    /// Directories nested past what the watcher descends are refused, not skipped.
    @Test func aTreeTooDeepToMeasureIsOverTheLimit() throws {
        let root = try TempTree.makeDirectory()
        defer { _ = try? SandboxHarness.runBlocking(["/bin/rm", "-rf", root], environment: nil, timeout: 10) }
        var fd = open(root, O_RDONLY | O_DIRECTORY)
        for _ in 0..<(DiskWatch.maxDepth + 5) {
            #expect(mkdirat(fd, "d", 0o700) == 0)
            let next = openat(fd, "d", O_RDONLY | O_DIRECTORY)
            close(fd)
            fd = next
        }
        close(fd)
        let usage = DiskWatch.measure([root])
        #expect(usage.unmeasured != nil)
        #expect(DiskWatch.excess(usage, .init(bytes: 1 << 40, inodes: 1 << 40))?.contains("deeper than") == true)
        #expect(DiskWatch.excess(DiskWatch.Usage(bytes: 10, inodes: 10), .init(bytes: 1 << 40, inodes: 1 << 40)) == nil)
    }
}
