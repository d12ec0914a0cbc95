@testable import CordonSandbox
import CordonTestSupport
import Foundation
import Glibc
import Testing

/// A new sandbox's record and uid claim are written before anything of the sandbox's runs but
/// flushed to disk only when the run leaves something in its upper layers (an fsync of files in
/// new directories held every fresh start for ~8 ms). These tests hold what that relies on: the
/// runner can tell a new, empty sandbox from one holding changes, and the claim knows the files
/// it has to flush; and the deferral changes nothing a later run or `cordon diff` sees.
struct NewSandboxFlushTests {
    func temporary() throws -> String {
        let path = NSTemporaryDirectory() + "cordon-flush-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        return path
    }

    @Test func emptyOrMissingUppersHoldNothingAndAnyEntryCounts() throws {
        let root = try temporary()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let layers = OverlayLayers(layers: [.init(upper: root + "/a/upper", work: root + "/a/work"), .init(upper: root + "/b/upper", work: root + "/b/work")])
        #expect(layers.holdNothing())
        try FileManager.default.createDirectory(atPath: root + "/a/upper", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/b/upper", withIntermediateDirectories: true)
        #expect(layers.holdNothing())
        // A whiteout or a hidden file is a change like any other.
        #expect(FileManager.default.createFile(atPath: root + "/b/upper/.hidden", contents: nil))
        #expect(!layers.holdNothing())
        try FileManager.default.removeItem(atPath: root + "/b/upper/.hidden")
        // An upper that cannot be read is not taken for empty.
        try FileManager.default.createDirectory(atPath: root + "/b/upper", withIntermediateDirectories: true)
        try FileManager.default.removeItem(atPath: root + "/b/upper")
        #expect(FileManager.default.createFile(atPath: root + "/b/upper", contents: Data("not a directory".utf8)))
        #expect(!layers.holdNothing())
    }

    @Test func settleSaysWhetherTheRunWroteBeneathAnUpper() throws {
        let root = try temporary()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let layer = OverlayLayers.Layer(upper: root + "/upper", work: root + "/work")
        try FileManager.default.createDirectory(atPath: layer.upper, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: layer.work, withIntermediateDirectories: true)
        let started = Int(time(nil))
        #expect(!OverlayLayers(layers: [layer]).settle(since: started))
        #expect(FileManager.default.createFile(atPath: layer.upper + "/written", contents: Data("x".utf8)))
        #expect(OverlayLayers(layers: [layer]).settle(since: started))
        #expect(!OverlayLayers(layers: [layer]).settle(since: Int(time(nil)) + 5))
    }

    /// A claim made now names the files to flush (and they hold the claim); a sandbox's later
    /// runs find the same block and have nothing to flush.
    @Test func aClaimMadeNowKnowsItsFiles() throws {
        let root = try temporary()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let registry = root + "/registry"
        let first = try IdentityRange.forSandbox(directory: root + "/a", registry: registry)
        #expect(first.claimedNow)
        #expect(first.claimFiles == [registry + "/\(first.block)", root + "/a/" + IdentityRange.recordName])
        #expect(try String(contentsOfFile: registry + "/\(first.block)", encoding: .utf8) == root + "/a")
        #expect(try String(contentsOfFile: root + "/a/" + IdentityRange.recordName, encoding: .utf8) == "\(first.block)\n")
        try first.flushClaim()
        let again = try IdentityRange.forSandbox(directory: root + "/a", registry: registry)
        #expect(again == first && !again.claimedNow && again.claimFiles.isEmpty)
        try again.flushClaim()
    }
}

/// End to end: a fresh sandbox (no --name: what `cordon run -- CMD` does) whose run wrote keeps
/// its record and, run as root, its uid range, and its changes are there for review and for the
/// next run of its name; one whose run wrote nothing leaves nothing behind.
@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "user namespaces unavailable on this host"))
struct FreshSandboxStateTests {
    func generatedName(_ stderr: String) -> String? {
        stderr.split(separator: "\n").first { $0.hasPrefix("cordon: sandbox ") }.map { String($0.dropFirst("cordon: sandbox ".count)) }
    }

    @Test func freshSandboxesKeepTheirRecordAndTheirChanges() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        for writes in [false, true] {
            let script = writes ? "echo kept > /workspace/new-file" : "true"
            let r = try await h.cordon(["run", "--workspace", h.workspace, "--", "/bin/sh", "-c", script])
            #expect(r.status == 0, "\(r.stderr)")
            let name = try #require(generatedName(r.stderr), "\(r.stderr)")
            let directory = h.state + "/cordon/sandboxes/" + name
            guard writes else {
                #expect(!FileManager.default.fileExists(atPath: directory), "nothing left behind")
                continue
            }
            let record = try String(contentsOfFile: directory + "/sandbox.json", encoding: .utf8)
            #expect(record.contains(h.workspace), "\(record)")
            if SandboxHarness.isRoot {
                let block = try String(contentsOfFile: directory + "/" + IdentityRange.recordName, encoding: .utf8)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                let owner = try String(contentsOfFile: IdentityRange.registry + "/" + block, encoding: .utf8)
                #expect(owner == directory)
            }
            let again = try await h.cordon([
                "run", "--name", name, "--workspace", h.workspace, "--", "/bin/sh", "-c", "cat /workspace/new-file 2>/dev/null || echo none",
            ])
            #expect(again.status == 0, "\(again.stderr)")
            #expect(again.stdout == "kept\n", "\(again.stderr)")
        }
    }

    /// The start of a new sandbox waits for no disk flush (it used to make two, ~10 ms on a quiet
    /// host, far more on a busy disk); one whose run leaves a change flushes its record (and, run
    /// as root, its uid claim) after the upper's filesystem is synced. Counted with strace: the
    /// calls, not their timing.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/strace"), "strace not installed"))
    func aNewSandboxFlushesOnlyWhenItsRunLeftChanges() async throws {
        let h = try SandboxHarness()
        defer { h.cleanup() }
        func flushes(_ script: String) async throws -> [String] {
            let trace = h.root + "/trace-\(UInt32.random(in: 0...UInt32.max))"
            let r = try await SandboxHarness.run(
                [
                    "/usr/bin/strace", "-f", "-qq", "-e", "trace=fsync,fdatasync,syncfs,sync", "-o", trace,
                    SandboxHarness.cordon, "run", "--workspace", h.workspace, "--", "/bin/sh", "-c", script,
                ],
                environment: h.environment(), directory: h.workspace)
            #expect(r.status == 0, "\(r.stderr)")
            let lines = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n")
            return lines.compactMap { line in
                ["fsync(", "fdatasync(", "syncfs(", "sync("].first { line.contains(" " + $0) }
            }
        }
        #expect(try await flushes("true") == [])
        let written = try await flushes("echo kept > /workspace/file")
        #expect(written.first == "syncfs(", "\(written)")
        #expect(written.filter { $0 == "fsync(" }.count == (SandboxHarness.isRoot ? 3 : 1), "\(written)")
    }
}
