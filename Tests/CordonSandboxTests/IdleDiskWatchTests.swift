import CordonTestSupport
import Foundation
import Glibc
import Testing

@testable import CordonSandbox

/// An `up` sandbox between commands holds nothing but its init, and its disk watch then skips
/// the measurement (nothing can write to the upper). The first process that appears must still be
/// measured at the watch's usual cadence: a writer left behind by an `exec` that returned at once
/// (an orphan, adopted by init) is frozen at the limit like any other.
@Suite(.enabled(if: SandboxHarness.namespacesAvailable, "needs user namespaces"), .serialized, .timeLimit(.minutes(3)))
struct IdleDiskWatchTests {
    @Test func aWriterStartedAfterIdlingIsFrozenAtTheLimit() async throws {
        let h = try SandboxHarness()
        let name = "idlefill"
        let directory = h.state + "/cordon/sandboxes/\(name)"
        var supervisor: Int32?
        defer {
            // A frozen sandbox waits for a signal (or the unattended hold): its supervisor gets one.
            if let supervisor { kill(supervisor, SIGTERM) }
            h.cleanup(downing: [name])
        }
        try h.write("profile.yaml", "name: idle\nresources:\n  disk: 20m\n", in: h.root)
        let up = try await h.cordon(["up", "--name", name, "--profile", h.root + "/profile.yaml", "--workspace", h.workspace])
        #expect(up.status == 0, "\(up.stderr)")
        let status = try await h.cordon(["status", name, "--json"])
        let record = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        supervisor = ((record?["sandbox"] as? [String: Any])?["supervisor_pid"] as? Int).map(Int32.init)
        #expect(supervisor != nil, "\(status.stdout)")
        // Idle: ten periods and more with nothing but init in the sandbox.
        try await Task.sleep(for: .seconds(1.5))
        let script = "(i=0; while [ $i -lt 200 ]; do head -c 1048576 /dev/zero > /workspace/f$i || exit 3; i=$((i+1)); done) >/dev/null 2>&1 &"
        let exec = try await h.cordon(["exec", name, "--", "/bin/sh", "-c", script], timeout: 60)
        #expect(exec.status == 0, "\(exec.stderr)")
        let deadline = Date().addingTimeInterval(60)
        var tripped = false
        while Date() < deadline, !tripped {
            let events = (try? String(contentsOfFile: directory + "/events.jsonl", encoding: .utf8)) ?? ""
            tripped = events.contains("\"disk_limit\"")
            if !tripped { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(tripped, "the writer was not frozen at the limit")
        // The slack (DiskLimitTests): well short of the 200 MiB attempted.
        let usage = DiskWatch.measure([directory + "/upper"])
        #expect(usage.bytes >= 20 << 20)
        #expect(usage.bytes < 100 << 20, "upper holds \(usage.bytes) bytes")
    }
}
