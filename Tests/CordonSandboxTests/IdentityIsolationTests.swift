import CordonTestSupport
import Foundation
import Glibc
import Testing

/// The agent must not hold the host's identity (issue #22, section 2): its own machine-id and
/// boot_id, no host path in its mountinfo, and (run as root) no host uid 0.
@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"), .timeLimit(.minutes(5)))
struct IdentityIsolationTests {
    static func hostFile(_ path: String) -> String {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test(.timeLimit(.minutes(1)))
    func hostIdentifiersAreNotVisible() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let script = "cat /etc/machine-id /proc/sys/kernel/random/boot_id"
        let first = try await h.sandbox(script)
        #expect(first.status == 0, "\(first.stderr)")
        let second = try await h.sandbox(script)
        #expect(second.status == 0, "\(second.stderr)")
        let a = first.stdout.split(separator: "\n").map(String.init)
        let b = second.stdout.split(separator: "\n").map(String.init)
        try #require(a.count == 2 && b.count == 2, "\(first.stdout) \(second.stdout)")
        let hostMachine = Self.hostFile("/etc/machine-id")
        let hostBoot = Self.hostFile("/proc/sys/kernel/random/boot_id")
        if !hostMachine.isEmpty { #expect(a[0] != hostMachine) }
        #expect(a[0].count == 32)
        #expect(a[0] == b[0], "machine-id is the sandbox's own and stable across its runs")
        #expect(a[1] != hostBoot)
        #expect(a[1] != b[1], "boot_id is new on every run")
        // Another sandbox has another machine-id.
        let other = try await h.sandbox("cat /etc/machine-id", name: "u")
        #expect(other.status == 0, "\(other.stderr)")
        #expect(other.stdout.trimmingCharacters(in: .whitespacesAndNewlines) != a[0])
    }

    @Test(.timeLimit(.minutes(1)))
    func mountinfoNamesNoHostPath() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        try h.write("a.txt", "a\n")
        let r = try await h.sandbox("cat /proc/self/mountinfo; echo x > /workspace/b.txt; cat /workspace/a.txt")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasSuffix("a\n"))
        for secret in [h.state, h.workspace, h.home, h.root] {
            #expect(!r.stdout.contains(secret), "mountinfo shows \(secret):\n\(r.stdout)")
        }
    }

    /// Adds a key to root's user keyring (python's ctypes: add_key(2)); its serial.
    static func addRootKey(_ description: String) throws -> String {
        let script = "import ctypes; libc = ctypes.CDLL(None, use_errno=True); print(libc.syscall(248, b'user', b'\(description)', b'secret', 6, -4))"
        let r = try SandboxHarness.runBlocking(["/usr/bin/python3", "-c", script], environment: nil, timeout: 10)
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func revokeKey(_ serial: String) {
        _ = try? SandboxHarness.runBlocking(
            ["/usr/bin/python3", "-c", "import ctypes; ctypes.CDLL(None).syscall(250, 3, \(Int(serial) ?? 0))"], environment: nil, timeout: 10)
    }

    /// Run as root, the agent is an unprivileged host uid: a root-only file the profile exposes
    /// stays unreadable, root's kernel keys stay invisible; the agent still sees itself as
    /// `agent` (1000), owns its workspace, and what it writes comes back through diff and sync.
    @Test(.enabled(if: SandboxHarness.isRoot, "needs root"), .timeLimit(.minutes(2)))
    func runAsRootTheAgentIsNotHostRoot() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let exposed = h.root + "/exposed"
        try h.write("secret", "ROOT ONLY\n", in: exposed)
        #expect(chmod(exposed + "/secret", 0o600) == 0)
        try h.write("mine.txt", "mine\n")
        #expect(chmod(h.workspace + "/mine.txt", 0o600) == 0)
        let keyName = "cordon-probe-\(UInt32.random(in: 0...UInt32.max))"
        let serial = try Self.addRootKey(keyName)
        defer { Self.revokeKey(serial) }
        try #require(Int(serial).map { $0 > 0 } == true, "add_key failed: \(serial)")
        #expect((try? String(contentsOfFile: "/proc/keys", encoding: .utf8))?.contains(keyName) == true, "control: root sees its key")

        try h.write("profile.yaml", "name: asroot\nmounts:\n  - {host: \(exposed), sandbox: /mnt/exposed, mode: ro}\n", in: h.root)
        let script = """
            id -u; id -un
            cat /mnt/exposed/secret 2>/dev/null || echo secret-denied
            grep -c \(keyName) /proc/keys || true
            cat /workspace/mine.txt
            echo more >> /workspace/mine.txt && echo new > /workspace/new.txt && mkdir /workspace/dir && echo deep > /workspace/dir/f
            stat -c '%U %a' /workspace/mine.txt /workspace/new.txt
            """
        let r = try await h.cordon(["run", "--profile", h.root + "/profile.yaml", "--workspace", h.workspace, "--name", "t", "--", "/bin/sh", "-c", script])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "1000\nagent\nsecret-denied\n0\nmine\nagent 600\nagent 644\n", "\(r.stdout)")

        // The upper layer's files belong to the sandbox's own host uid, not to root.
        var st = stat()
        #expect(lstat(h.state + "/cordon/sandboxes/t/upper/new.txt", &st) == 0)
        #expect(st.st_uid >= 0x7000_0000 && st.st_uid < 0x7FFE_0000, "owner \(st.st_uid)")

        let diff = try await h.cordon(["diff", "t"])
        #expect(diff.status == 0, "\(diff.stderr)")
        #expect(diff.stdout.contains("new.txt") && diff.stdout.contains("mine.txt") && diff.stdout.contains("dir/f"), "\(diff.stdout)")
        let sync = try await h.cordon(["sync", "t", "--yes"])
        #expect(sync.status == 0, "\(sync.stdout)\(sync.stderr)")
        #expect(try String(contentsOfFile: h.workspace + "/new.txt", encoding: .utf8) == "new\n")
        #expect(try String(contentsOfFile: h.workspace + "/mine.txt", encoding: .utf8) == "mine\nmore\n")
        #expect(try String(contentsOfFile: h.workspace + "/dir/f", encoding: .utf8) == "deep\n")
        for path in ["new.txt", "mine.txt", "dir", "dir/f"] {
            #expect(lstat(h.workspace + "/" + path, &st) == 0 && st.st_uid == 0 && st.st_gid == 0, "\(path) is adopted by root (\(st.st_uid))")
        }
    }

    /// Run as root on another user's project: the workspace and a read-write mount are mapped so
    /// that their owner is the sandbox's user; what the agent writes through the mount is stored
    /// as that owner, never as root.
    @Test(.enabled(if: SandboxHarness.isRoot, "needs root"), .timeLimit(.minutes(2)))
    func runAsRootAnotherUsersDirectoriesBelongToTheAgent() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let shared = h.root + "/shared"
        try h.write("note", "hello\n", in: shared)
        try h.write("a.txt", "a\n")
        for path in [h.workspace, h.workspace + "/a.txt", shared, shared + "/note"] {
            #expect(chown(path, 4242, 4343) == 0)
        }
        #expect(chmod(h.workspace + "/a.txt", 0o600) == 0)
        try h.write("profile.yaml", "name: other\nmounts:\n  - {host: \(shared), sandbox: /mnt/shared, mode: rw}\n", in: h.root)
        let script = """
            cat /workspace/a.txt && echo b > /workspace/b.txt
            cat /mnt/shared/note && echo written > /mnt/shared/new
            stat -c '%U:%G' /workspace/a.txt /mnt/shared/note /mnt/shared/new
            """
        let r = try await h.cordon(["run", "--profile", h.root + "/profile.yaml", "--workspace", h.workspace, "--name", "o", "--", "/bin/sh", "-c", script])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "a\nhello\nagent:agent\nagent:agent\nagent:agent\n", "\(r.stdout)")
        var st = stat()
        #expect(lstat(shared + "/new", &st) == 0 && st.st_uid == 4242 && st.st_gid == 4343, "stored as \(st.st_uid):\(st.st_gid)")
        #expect(lstat(h.state + "/cordon/sandboxes/o/upper/b.txt", &st) == 0 && st.st_uid >= 0x7000_0000, "upper owner \(st.st_uid)")
    }

    /// A sandbox an earlier cordon ran as host root holds files owned by root in its upper layer:
    /// when it first gets its own ids they become the sandbox's, so the agent can change them;
    /// a symlink in the upper is changed itself, never what it points to.
    @Test(.enabled(if: SandboxHarness.isRoot, "needs root"), .timeLimit(.minutes(2)))
    func runAsRootASandboxFromBeforeKeepsItsChanges() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let first = try await h.sandbox(
            "echo one > /workspace/kept.txt && mkdir /workspace/d && echo x > /workspace/d/f && ln -s /etc/hostname /workspace/link")
        #expect(first.status == 0, "\(first.stderr)")
        // As an earlier cordon left it: everything root's, and no block recorded.
        let dir = h.state + "/cordon/sandboxes/t"
        let block = try String(contentsOfFile: dir + "/uid-range", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(unlink(dir + "/uid-range") == 0)
        #expect(unlink("/var/lib/cordon/uid-ranges/" + block) == 0)
        for path in ["kept.txt", "d", "d/f"] { #expect(lchown(dir + "/upper/" + path, 0, 0) == 0) }
        #expect(lchown(dir + "/upper/link", 0, 0) == 0)
        var before = stat()
        #expect(stat("/etc/hostname", &before) == 0)

        let second = try await h.sandbox("echo two >> /workspace/kept.txt && echo y > /workspace/d/g && cat /workspace/kept.txt")
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout == "one\ntwo\n")
        #expect(!second.stderr.contains("could not be given"), "\(second.stderr)")
        var st = stat()
        #expect(lstat(dir + "/upper/link", &st) == 0 && st.st_uid >= 0x7000_0000)
        var after = stat()
        #expect(stat("/etc/hostname", &after) == 0 && after.st_uid == before.st_uid, "the link's target is untouched")
    }
}
