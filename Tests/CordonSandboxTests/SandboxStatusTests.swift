import CordonCore
@testable import CordonSandbox
import CordonTestSupport
import Foundation
import Testing

/// The pure parts of `cordon ls`/`status`/`discard`: how the event log's last run is read, a log's
/// bounded tail, and how a discard path becomes workspace-relative.
struct SandboxStatusTests {
    func events(_ lines: [String]) throws -> SandboxStatus {
        let tree = try TempTree()
        let layout = SandboxLayout(directory: tree.root)
        try (lines.joined(separator: "\n") + "\n").write(toFile: layout.events, atomically: false, encoding: .utf8)
        var status = SandboxStatus(name: "t", layout: layout, state: .stopped)
        status.readEvents()
        return status
    }

    static let start =
        #"{"time":"2026-01-01T00:00:00Z","event":"start","sandbox":"t","profile":"p","mode":"secure","workspace":"/w","command":["sh"],"limits":"none","landlock_abi":6,"network":"proxy","disk_limit_bytes":0,"inode_limit":0}"#
    static let exit = #"{"time":"2026-01-01T00:00:05Z","event":"exit","sandbox":"t","status":3,"duration_ms":5000,"oom_kills":0,"supervisor_peak_rss_kb":1}"#

    @Test func theLastStartDecidesAndAnyKnownEndEndsIt() throws {
        let ended = try events([Self.start, Self.exit])
        #expect(ended.lastStart != nil && ended.lastExit?.status == 3 && ended.lastEnded == "2026-01-01T00:00:05Z")
        // A later start without an end: what a killed supervisor leaves.
        let open = try events([Self.start, Self.exit, Self.start])
        #expect(open.lastStart != nil && open.lastEnded == nil && open.lastExit == nil)
        // A torn line and an end event of a later version (down) are no start.
        let later = try events([Self.start, #"{"time":"2026-01-01T00:01:00Z","event":"down","sandbox":"t"}"#, #"{"time":"#])
        #expect(later.lastEnded == "2026-01-01T00:01:00Z")
    }

    @Test func aLogsTailStartsAtAWholeLine() throws {
        let tree = try TempTree()
        let path = tree.path("log")
        try (0..<1000).map { "line \($0)" }.joined(separator: "\n").appending("\n").write(toFile: path, atomically: false, encoding: .utf8)
        let tail = try #require(SandboxStatus.tail(path, limit: 100))
        let text = String(decoding: tail, as: UTF8.self)
        #expect(text.hasPrefix("line ") && text.hasSuffix("line 999\n") && tail.count <= 100, "\(text)")
        #expect(SandboxStatus.tail(tree.path("missing"), limit: 100) == nil)
    }

    @Test func discardPathsAreWorkspaceRelativeAndStayInside() throws {
        let workspace = "/home/u/proj"
        for (path, expected) in [
            ("a/b", "a/b"), ("./a//b/", "a/b"), ("/workspace/a", "a"), ("/home/u/proj/a", "a"), ("/home/u/proj/workspace/x", "workspace/x"),
        ] {
            #expect(try UpperDiscard.relative(path, workspace: workspace) == expected, "\(path)")
        }
        for path in ["../x", "a/../../b", "a/..", "/etc/passwd", "/home/u/projx/a", "/workspace", workspace, ".", ""] {
            #expect(throws: CordonError.self, "\(path)") { try UpperDiscard.relative(path, workspace: workspace) }
        }
    }
}
