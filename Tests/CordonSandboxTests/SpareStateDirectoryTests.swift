import CordonCore
import CordonTestSupport
import Foundation
import Glibc
import Testing

@testable import CordonSandbox

/// `cordon run -- CMD` under a made-up name leaves nothing when the command leaves nothing, and
/// the emptied state directory may serve the next new sandbox. Nothing of one sandbox may reach
/// the next through it: logs, record and machine-id are emptied, an upper holding anything is
/// never taken, and nothing in a spare is followed.
@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"), .serialized, .timeLimit(.minutes(5)))
struct SpareStateDirectoryTests {
    func sandboxes(_ h: SandboxHarness) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: h.state + "/cordon/sandboxes")) ?? []).sorted()
    }
    func spares(_ h: SandboxHarness) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: h.state + "/cordon/spare")) ?? []).sorted()
    }
    /// The name cordon made up, from its first line.
    func madeUpName(_ r: ProcessResult) -> String {
        r.stderr.split(separator: "\n").first { $0.hasPrefix("cordon: sandbox ") }.map { String($0.dropFirst("cordon: sandbox ".count)) } ?? ""
    }

    @Test func aRunThatLeavesNothingLeavesNoStateAndOneThatWritesIsKept() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        for status in ["0", "127"] {
            let r = try await h.cordon(["run", "--", "/bin/sh", "-c", "exit \(status)"])
            #expect(r.status == Int32(status), "\(r.stderr)")
            #expect(r.stderr.contains("no changes, nothing kept"), "\(r.stderr)")
            #expect(sandboxes(h).isEmpty)
        }
        #expect(spares(h).count == 1, "the emptied directory waits for the next sandbox")
        let wrote = try await h.cordon(["run", "--", "/bin/sh", "-c", "echo kept > note"])
        let name = madeUpName(wrote)
        #expect(sandboxes(h) == [name], "\(wrote.stderr)")
        #expect(spares(h).isEmpty, "the spare served it")
        // A name the user chose stays, changes or not.
        _ = try await h.sandbox("true", name: "chosen")
        #expect(sandboxes(h) == [name, "chosen"].sorted())
    }

    /// A refused connection is something to look into: the sandbox stays for `cordon net log`.
    @Test func aRunWithARefusedConnectionIsKept() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let r = try await h.cordon(["run", "--", "/bin/sh", "-c", "getent hosts refused.example >/dev/null; true"])
        let name = madeUpName(r)
        #expect(sandboxes(h) == [name], "\(r.stderr)")
        let log = try await h.cordon(["net", "log", name])
        #expect(log.stdout.contains("refused.example"), "\(log.stdout) \(log.stderr)")
    }

    @Test func nothingOfTheEarlierSandboxReachesTheNext() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        let first = try await h.cordon(["run", "--", "/bin/sh", "-c", "cat /etc/machine-id"])
        #expect(spares(h).count == 1)
        let second = try await h.cordon(["run", "--", "/bin/sh", "-c", "cat /etc/machine-id; echo x > fresh-file"])
        let name = madeUpName(second)
        #expect(first.stdout != second.stdout, "a new machine-id: \(first.stdout) \(second.stdout)")
        let dir = h.state + "/cordon/sandboxes/" + name
        let events = try String(contentsOfFile: dir + "/events.jsonl", encoding: .utf8)
        #expect(!events.contains(madeUpName(first)), "the earlier sandbox's events are gone")
        #expect(events.contains("\"sandbox\":\"\(name)\""))
        let record = try String(contentsOfFile: dir + "/sandbox.json", encoding: .utf8)
        #expect(record.contains("\"name\":\"\(name)\""))
        let diff = try await h.cordon(["diff", name])
        #expect(diff.stdout.contains("fresh-file"), "\(diff.stdout)")
    }

    /// A spare changed behind cordon's back (an entry in its upper, a symlink where a log was)
    /// is not taken, and nothing is written through the link.
    @Test func aSpareThatHoldsAnythingIsNotTaken() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        _ = try await h.cordon(["run", "--", "true"])
        let spare = try #require(spares(h).first)
        let spareDir = h.state + "/cordon/spare/" + spare
        #expect(FileManager.default.createFile(atPath: spareDir + "/upper/planted", contents: Data("from before".utf8)))
        let r = try await h.cordon(["run", "--", "/bin/sh", "-c", "ls -A /workspace; echo y > g"])
        #expect(r.stdout.isEmpty, "the new sandbox sees none of the spare's upper: \(r.stdout)")
        #expect(spares(h) == [spare], "the changed spare stays where it is")

        let target = h.root + "/outside"
        try "keep me".write(toFile: target, atomically: false, encoding: .utf8)
        try FileManager.default.removeItem(atPath: spareDir + "/upper/planted")
        try FileManager.default.removeItem(atPath: spareDir + "/events.jsonl")
        try FileManager.default.createSymbolicLink(atPath: spareDir + "/events.jsonl", withDestinationPath: target)
        _ = try await h.cordon(["run", "--", "/bin/sh", "-c", "echo z > h"])
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "keep me")
        #expect(spares(h) == [spare])
    }

    @Test func atMostAFewSparesAreKept() throws {
        let scratch = try TempTree(prefix: "cordon-spares")
        let spares = SpareStateDirectories(directory: scratch.path("spare"))
        var given = 0
        for index in 0..<(SpareStateDirectories.keep + 2) {
            let layout = SandboxLayout(directory: scratch.path("s\(index)"))
            try FileManager.default.createDirectory(atPath: layout.upper, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: layout.work, withIntermediateDirectories: true)
            #expect(FileManager.default.createFile(atPath: layout.events, contents: Data("{\"event\":\"start\"}\n".utf8)))
            if spares.give(layout) { given += 1 }
        }
        #expect(given == SpareStateDirectories.keep)
        let kept = try FileManager.default.contentsOfDirectory(atPath: scratch.path("spare"))
        #expect(kept.count == SpareStateDirectories.keep)
        for name in kept {
            let attributes = try FileManager.default.attributesOfItem(atPath: scratch.path("spare/\(name)/events.jsonl"))
            #expect((attributes[.size] as? Int) == 0, "a spare's log is emptied when it is given")
        }
    }
}
